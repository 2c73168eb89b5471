// The peer's lib.test.ts runs the component as the app: this is its schema.
import { schema } from "convex-migrate/test";
export default schema;
