/**
 * Group commit, shared by the relay and the aggregator: requests that finish verification in the same turn of the event loop
 * are written in one transaction, so many senders share one fsync. Each caller's
 * promise settles only after that transaction committed (or failed).
 */
export class GroupCommit<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly commit: (items: I[]) => O[]) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves once everything submitted so far has been committed (for shutdown). */
  async drain(): Promise<void> {
    while (this.pending.length || this.scheduled) await new Promise((r) => setImmediate(r));
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.pending;
    this.pending = [];
    try {
      const out = this.commit(group.map((g) => g.item));
      group.forEach((g, i) => g.resolve(out[i]!));
    } catch (e) {
      for (const g of group) g.reject(e);
    }
  }
}
