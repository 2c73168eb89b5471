/**
 * Progress while a run is followed. On a terminal: one live line per
 * migration, redrawn in place (log-update). Elsewhere (CI logs, pipes):
 * plain lines when a migration starts or ends, and a progress line for the
 * running one every PLAIN_PROGRESS_EVERY_MS.
 */
import { createLogUpdate } from "log-update";
import { isLiveTerminal, type Colors, type Out } from "./io.js";
import { idWidthOf, itemLine, runHeadline } from "./output.js";
import type { RunView } from "./types.js";

/** How often a plain (non-TTY) progress line repeats for a running migration. */
export const PLAIN_PROGRESS_EVERY_MS = 10_000;

export class Progress {
  private readonly seen = new Map<string, string>();
  private lastPlainMs = 0;
  private readonly live: ReturnType<typeof createLogUpdate> | undefined;

  constructor(
    private readonly out: Out,
    private readonly c: Colors,
    private readonly now: () => number = Date.now,
  ) {
    this.live = isLiveTerminal(out) ? createLogUpdate(out as NodeJS.WriteStream, { showCursor: true }) : undefined;
  }

  /** Show the run as it stands now. */
  update(run: RunView): void {
    if (this.live) {
      this.live(this.frame(run));
      return;
    }
    const now = this.now();
    const w = idWidthOf(run.items);
    for (const item of run.items) {
      const key = `${item.id}:${item.direction}`;
      const before = this.seen.get(key);
      if (before === item.status) continue;
      this.seen.set(key, item.status);
      if (item.status === "pending") continue;
      if (item.status === "running") {
        this.out.write(`  ${this.c.cyan("▸")} ${item.id.padEnd(w)} ${this.c.dim(item.direction.padEnd(4))}  started\n`);
        this.lastPlainMs = now;
      } else {
        this.out.write(`  ${itemLine(this.c, item, now, w)}\n`);
      }
    }
    if (now - this.lastPlainMs >= PLAIN_PROGRESS_EVERY_MS) {
      for (const item of run.items.filter((i) => i.status === "running")) {
        this.out.write(`  ${itemLine(this.c, item, now, w)}\n`);
      }
      this.lastPlainMs = now;
    }
  }

  /** The run ended (or we stopped following it): leave its last state on screen. */
  finish(run: RunView | undefined): void {
    if (this.live) {
      if (run) this.live(this.frame(run));
      this.live.done();
      return;
    }
    if (run) this.update(run);
  }

  private frame(run: RunView): string {
    const now = this.now();
    const w = idWidthOf(run.items);
    return [`  ${runHeadline(this.c, run)}`, ...run.items.map((i) => `  ${itemLine(this.c, i, now, w)}`)].join("\n");
  }
}
