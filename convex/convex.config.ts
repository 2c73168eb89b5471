import { defineComponent } from "convex/server";

/** The convex-migrate component. Mount it with `app.use(migrations)`. */
const component = defineComponent("migrations");

export default component;
