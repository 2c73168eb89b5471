import { defineApp } from "convex/server";
import migrations from "convex-migrate/convex.config";

const app = defineApp();
app.use(migrations);

export default app;
