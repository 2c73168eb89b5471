/**
 * Progress while a run is followed. On a terminal: a live progress bar per
 * migration under the run's own bar, redrawn in place (cli-progress).
 * Elsewhere (CI logs, pipes): plain lines when a migration starts or ends,
 * and the run's and the running migration's percent and time left every
 * PLAIN_PROGRESS_EVERY_MS.
 */
import cliProgress from "cli-progress";
import { isLiveTerminal, type Colors, type Out } from "./io.js";
import { idWidthOf, itemLine, runHeadline } from "./output.js";
import type { RunView } from "./types.js";

/** How often a plain (non-TTY) progress line repeats for a running migration. */
export const PLAIN_PROGRESS_EVERY_MS = 10_000;
/** Characters in a drawn bar. */
const BAR_WIDTH = 24;

/** What each live row draws: its text around the bar cli-progress renders. */
type Row = { render: (bar: (fraction: number) => string) => string };

export class Progress {
  private readonly seen = new Map<string, string>();
  private lastPlainMs = 0;
  private readonly live: cliProgress.MultiBar | undefined;
  private readonly rows: cliProgress.SingleBar[] = [];

  constructor(
    private readonly out: Out,
    private readonly c: Colors,
    private readonly now: () => number = Date.now,
  ) {
    this.live = isLiveTerminal(out)
      ? new cliProgress.MultiBar(
          {
            stream: out as NodeJS.WriteStream,
            barsize: BAR_WIDTH,
            hideCursor: true,
            // The last frame is written as plain lines by finish(): once
            // stopped, cli-progress cuts lines counting colour codes as
            // characters. While live, the terminal cuts them (no wrap).
            clearOnComplete: true,
            stopOnComplete: false,
            linewrap: false,
            forceRedraw: true,
            // Each row lays itself out; the library draws the bar at the
            // fraction given, with its own glyphs.
            format: (options, _params, payload: Row) =>
              payload.render((fraction) =>
                cliProgress.Format.BarFormat(Math.min(1, Math.max(0, fraction)), options),
              ),
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  }

  /** Show the run as it stands now. */
  update(run: RunView): void {
    if (this.live) {
      this.draw(this.live, run);
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
      const running = run.items.filter((i) => i.status === "running");
      if (running.length > 0 && run.items.length > 1) this.out.write(`  ${runHeadline(this.c, run)}\n`);
      for (const item of running) {
        this.out.write(`  ${itemLine(this.c, item, now, w)}\n`);
      }
      this.lastPlainMs = now;
    }
  }

  /** The run ended (or we stopped following it): leave its last state on screen. */
  finish(run: RunView | undefined): void {
    if (this.live) {
      this.live.stop();
      if (run) this.out.write(`${this.lines(run).map((row) => row.render(this.barText)).join("\n")}\n`);
      return;
    }
    if (run) this.update(run);
  }

  /** One row for the run, then one per migration, each with its bar. */
  private lines(run: RunView): Row[] {
    const now = this.now();
    const w = idWidthOf(run.items);
    return [
      { render: (bar) => `  ${runHeadline(this.c, run, bar)}` },
      ...run.items.map((item) => ({ render: (bar: (fraction: number) => string) => `  ${itemLine(this.c, item, now, w, bar)}` })),
    ];
  }

  /** The bar glyphs cli-progress draws, for the last frame written after it stops. */
  private readonly barText = (fraction: number) =>
    cliProgress.Format.BarFormat(Math.min(1, Math.max(0, fraction)), {
      ...cliProgress.Presets.shades_classic,
      barsize: BAR_WIDTH,
      barGlue: "",
      barCompleteString: cliProgress.Presets.shades_classic.barCompleteChar!.repeat(BAR_WIDTH),
      barIncompleteString: cliProgress.Presets.shades_classic.barIncompleteChar!.repeat(BAR_WIDTH),
    });

  private draw(live: cliProgress.MultiBar, run: RunView): void {
    const rows = this.lines(run);
    rows.forEach((row, i) => {
      const bar = this.rows[i];
      if (bar) bar.update(0, row);
      else this.rows.push(live.create(1, 0, row));
    });
    live.update();
  }
}
