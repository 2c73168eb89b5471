// The peer's lib.test.ts imports the component's API from here.
export { api } from "convex-migrate/test";
