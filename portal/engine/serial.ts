/** Runs async work one at a time, in call order; a failure does not stop the work queued after it. */
export class Serial {
  #tail: Promise<void> = Promise.resolve();

  run(work: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(work, work);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves when everything queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
