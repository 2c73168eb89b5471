import { defineApp } from "convex/server";
import peerMigrations from "@convex-dev/migrations/convex.config";
import migrations from "convex-migrate/convex.config";

/** Both tools side by side in one app: ours as `migrations`, the peer as `peerMigrations`. */
const app = defineApp();
app.use(migrations);
app.use(peerMigrations, { name: "peerMigrations" });

export default app;
