/**
 * Frames that arrive while a REST read is in flight: the read's answer may predate them,
 * so they are applied again on top of it before it enters the cache.
 */
export class FrameReplay<F> {
  private readonly reads = new Set<F[]>();

  /** Run a read; `apply` lays the frames seen meanwhile over its answer. */
  async read<T>(fetch: () => Promise<T>, apply: (answer: T, frames: F[]) => T): Promise<T> {
    const frames: F[] = [];
    this.reads.add(frames);
    try {
      return apply(await fetch(), frames);
    } finally {
      this.reads.delete(frames);
    }
  }

  /** Remember a frame for every read in flight. */
  note(frame: F): void {
    for (const frames of this.reads) frames.push(frame);
  }
}
