// The bench's progress display on stderr: a redrawn bar on a terminal, one plain line per phase otherwise.

export interface ProgressSink {
  write(s: string): unknown;
}

const WIDTH = 30;

/** One bar line, pure so it can be tested: `label [#####.....]  3.0/6 s  warm-up  1,234 req/s`. */
export function barLine(label: string, doneS: number, totalS: number, stage: string, rate: number): string {
  const frac = totalS > 0 ? Math.min(1, Math.max(0, doneS / totalS)) : 0;
  const filled = Math.round(frac * WIDTH);
  const bar = '#'.repeat(filled) + '.'.repeat(WIDTH - filled);
  const r = Number.isFinite(rate) ? Math.round(rate).toLocaleString('en-US') : '0';
  return `${label.padEnd(34)} [${bar}] ${doneS.toFixed(1).padStart(5)}/${totalS} s  ${stage.padEnd(7)} ${r.padStart(8)} req/s`;
}

export class Progress {
  private label = '';
  private warmup = 0;
  private total = 0;
  private stage: 'warmup' | 'measure' = 'measure';
  private lastDraw = 0;

  constructor(private readonly out: ProgressSink, private readonly tty: boolean) {}

  begin(label: string, warmupS: number, durationS: number): void {
    this.label = label;
    this.warmup = warmupS;
    this.total = warmupS + durationS;
    this.stage = warmupS > 0 ? 'warmup' : 'measure';
    if (!this.tty) this.out.write(`bench: ${label}: ${warmupS} s warm-up + ${durationS} s measured\n`);
    else this.update(0, 0);
  }

  setStage(stage: 'warmup' | 'measure'): void {
    this.stage = stage;
  }

  update(elapsedS: number, responses: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && elapsedS > 0) return;
    this.lastDraw = now;
    const done = (this.stage === 'measure' ? this.warmup : 0) + elapsedS;
    const rate = elapsedS > 0 ? responses / elapsedS : 0;
    const stage = this.stage === 'warmup' ? 'warm-up' : 'measure';
    // \r + clear line (ESC [2K): redraw in place.
    this.out.write(`\r\x1b[2K${barLine(this.label, done, this.total, stage, rate)}`);
  }

  end(summary: string): void {
    if (this.tty) this.out.write(`\r\x1b[2K${this.label.padEnd(34)} ${summary}\n`);
    else this.out.write(`bench: ${this.label}: ${summary}\n`);
  }
}
