/** Training progress: a live bar on a terminal, plain periodic lines otherwise (CI logs). */
import cliProgress from 'cli-progress';

export interface ProgressStats {
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
}

export interface Progress {
  update(done: number, stats: ProgressStats): void;
  stop(): void;
}

/** loss and accuracy are NaN until the first metrics arrive from the device (see PendingMetrics). */
const fmt = (s: ProgressStats) =>
  Number.isNaN(s.loss)
    ? `loss -  acc -  ${Math.round(s.imagesPerSecond)} img/s`
    : `loss ${s.loss.toFixed(4)}  acc ${(100 * s.accuracy).toFixed(1)}%  ${Math.round(s.imagesPerSecond)} img/s`;

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} batches | {stats} | ETA {eta_formatted}`, stream, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { stats: '' });
    return { update: (done, s) => bar.update(done, { stats: fmt(s) }), stop: () => bar.stop() };
  }
  // Not a terminal: a line every 10% of the epoch or every 30 s, whichever comes first.
  const start = Date.now();
  let lastLine = start;
  let lastDecile = 0;
  return {
    update(done, s) {
      const decile = Math.floor((10 * done) / total);
      const now = Date.now();
      if (decile > lastDecile || now - lastLine > 30_000 || done === total) {
        lastDecile = decile;
        lastLine = now;
        const eta = done > 0 ? Math.round(((now - start) / done) * (total - done) / 1000) : 0;
        stream.write(`${label} ${done}/${total} batches | ${fmt(s)} | ETA ${eta}s\n`);
      }
    },
    stop() {},
  };
}
