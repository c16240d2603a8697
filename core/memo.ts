/**
 * A bounded memo of computed values, owned by its caller (issue 11: core keeps no module state;
 * the edge holds one per isolate, the control plane its own, a caller without one computes
 * afresh). Cleared when full, so keys that come from outside cannot grow it. Nothing in it
 * changes an answer, only what the answer costs.
 */
export class BoundedMemo<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(readonly max: number) {}

  /** The value remembered for `key`, else `make(key)`, remembered. */
  get(key: K, make: (key: K) => V): V {
    let value = this.#entries.get(key);
    if (value === undefined) {
      if (this.#entries.size >= this.max) this.#entries.clear();
      value = make(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }
}
