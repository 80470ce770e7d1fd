import sortedBtree from 'sorted-btree';

// sorted-btree is CommonJS with an `exports.default`; Node's ESM loader hands us the module object.
type BTreeClass = typeof sortedBtree.default;
const BTree: BTreeClass = (sortedBtree as unknown as { default?: BTreeClass }).default ?? (sortedBtree as unknown as BTreeClass);

/** Where the bytes of one committed op live: the note, and the op that wrote it. */
export interface ExtentSource {
  readonly op: number;
  readonly noteId: string;
  /** Volume offset at which the note's payload begins. */
  readonly noteOffset: number;
  /** The note's whole length and SHA-256, when known: a flush copies a note that is exactly one chunk. */
  readonly noteLength?: number;
  readonly sha256?: string;
  /** The op made these bytes zeros (a zero extent): they come from nowhere, and `noteId`'s payload has none of them. */
  readonly zero?: boolean;
}

/** One range an op wrote, and where its bytes live. */
export interface ExtentPart {
  readonly offset: number;
  readonly length: number;
  readonly source: ExtentSource;
}

/** A run of bytes [offset, offset + length) that one op wrote last. */
export interface Extent extends ExtentSource {
  readonly offset: number;
  readonly length: number;
}

interface Segment extends ExtentSource {
  readonly end: number;
}

/**
 * The extent index of a partition: disjoint segments keyed on their start offset in a B+
 * tree, each naming the newest op that covers it. Ops are applied in op order, so applying
 * op n simply cuts away whatever it overlaps; a read is then one ordered range scan.
 */
export class ExtentIndex {
  private tree = new BTree<number, Segment>();
  private applied: number;

  /** An index of the ops after `afterOp` (the ops up to it live in the partition's chunk map). */
  constructor(readonly afterOp = 0) {
    this.applied = afterOp;
  }

  /** The highest op applied so far (0 for none). */
  get lastOp(): number {
    return this.applied;
  }

  /** Number of disjoint segments (for tests and status). */
  get segmentCount(): number {
    return this.tree.size;
  }

  /**
   * Applies op `source.op`, which wrote [offset, offset + length). Ops must arrive in
   * increasing order; an op at or below the last applied one is ignored (a replay).
   */
  apply(offset: number, length: number, source: ExtentSource): void {
    this.applyAll(source.op, [{ offset, length, source }]);
  }

  /**
   * Applies op `op`, whose note wrote `parts` in this order: a later part wins where parts
   * overlap (a note may carry several extents, data or zero). Ignored when `op` is at or
   * below the last applied one (a replay).
   */
  applyAll(op: number, parts: readonly ExtentPart[]): void {
    if (op <= this.applied) return;
    this.applied = op;
    for (const part of parts) if (part.length > 0) this.place(part.offset, part.length, part.source);
  }

  private place(offset: number, length: number, source: ExtentSource): void {
    const end = offset + length;
    // A segment that starts before `offset` may run into the new range: keep its head, and its tail if it outlives `end`.
    const before = this.tree.nextLowerPair(offset);
    if (before && before[1].end > offset) {
      const [start, segment] = before;
      this.tree.set(start, { ...segment, end: offset });
      if (segment.end > end) this.tree.set(end, { ...segment });
    }
    // Segments starting inside the range are replaced; the last may leave a tail past `end`.
    const inside: Array<[number, Segment]> = [];
    this.tree.forRange(offset, end, false, (start, segment) => {
      inside.push([start, segment]);
    });
    for (const [start, segment] of inside) {
      this.tree.delete(start);
      if (segment.end > end) this.tree.set(end, { ...segment });
    }
    this.tree.set(offset, { ...source, end });
  }

  /** A copy that later applies to this index do not change (the tree's nodes are shared copy-on-write). */
  clone(): ExtentIndex {
    const copy = new ExtentIndex(this.afterOp);
    copy.tree = this.tree.clone();
    copy.applied = this.applied;
    return copy;
  }

  /**
   * The index over a chunk map that now holds every op up to `baseOp`: the same segments
   * minus those of ops at or below it, whose bytes the chunks hold.
   */
  rebase(baseOp: number): ExtentIndex {
    const next = new ExtentIndex(baseOp);
    next.applied = Math.max(this.applied, baseOp);
    // Nothing after the base: the common case after a flush of everything, with no walk.
    if (this.applied <= baseOp) return next;
    this.tree.forEachPair((start, segment) => {
      if (segment.op > baseOp) next.tree.set(start, segment);
    });
    return next;
  }

  /** True when some op after the base wrote into [offset, offset + length). */
  covers(offset: number, length: number): boolean {
    const before = this.tree.nextLowerPair(offset);
    if (before && before[1].end > offset) return true;
    const next = this.tree.nextHigherKey(offset - 1);
    return next !== undefined && next < offset + length;
  }

  /** The extents that cover [offset, offset + length), in offset order (zero extents flagged `zero`); gaps are never written. */
  lookup(offset: number, length: number): Extent[] {
    const end = offset + length;
    const found: Extent[] = [];
    const emit = (start: number, segment: Segment) => {
      const from = Math.max(start, offset);
      const to = Math.min(segment.end, end);
      if (to > from) {
        found.push({
          offset: from,
          length: to - from,
          op: segment.op,
          noteId: segment.noteId,
          noteOffset: segment.noteOffset,
          noteLength: segment.noteLength,
          sha256: segment.sha256,
          ...(segment.zero ? { zero: true } : {}),
        });
      }
    };
    const before = this.tree.nextLowerPair(offset);
    if (before) emit(before[0], before[1]);
    this.tree.forRange(offset, end, false, emit);
    return found;
  }
}
