/** BENCH_SCALE (default 1) shrinks every default size: 0.05 runs the whole bench in a few minutes. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** The size `name` gives, else `full` scaled (at least `least`). */
export const size = (name: string, full: number, least = 1000) => Number(process.env[name] ?? Math.max(least, Math.round(full * SCALE)));
