// The peer's lib.test.ts defines its test migrations with the component's builders.
export { mutation, query } from "convex-migrate/test";
