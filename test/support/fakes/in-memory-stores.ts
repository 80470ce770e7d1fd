/**
 * In-memory fakes of the ports a partition head needs, with the semantics the head relies on:
 * the note log's append is conditional (one op number, one writer), lease updates are
 * conditional on the exact lease, objects are immutable. Every call yields once first, so
 * concurrent callers interleave as they would against a real store.
 */
import { ChunkGoneError, NoteGoneError } from '../../../lib/errors.js';
import type {
  ChunkMap,
  ChunkMapStore,
  HeadLease,
  JournalStore,
  LeaseWanted,
  LogChanges,
  LogEntry,
  LogRef,
  NoteLogStore,
  NotePart,
  PartitionMeta,
  PartitionMetaStore,
  TailEntry,
} from '../../../lib/notes/ports.js';
import type { ChunkLocation, ChunkStore, ListedChunk } from '../../../lib/sleds/ports.js';

const key = (log: LogRef) => `${log.volumeId}#${log.partition}#${log.replicaId}`;
/** One turn of the event loop, so that callers interleave. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Partition metadata, replaced only under the expected epoch. */
export class FakeMetaStore implements PartitionMetaStore {
  readonly items = new Map<string, PartitionMeta>();
  async get(volumeId: string, partition: number) {
    await turn();
    return this.items.get(`${volumeId}#${partition}`);
  }
  async getMany(keys: ReadonlyArray<{ volumeId: string; partition: number }>) {
    await turn();
    return keys.map(({ volumeId, partition }) => this.items.get(`${volumeId}#${partition}`)).filter((meta): meta is PartitionMeta => meta !== undefined);
  }
  async createIfAbsent(meta: PartitionMeta) {
    await turn();
    const id = `${meta.volumeId}#${meta.partition}`;
    if (!this.items.has(id)) this.items.set(id, meta);
    return this.items.get(id) as PartitionMeta;
  }
  async replace(meta: PartitionMeta, expectedEpoch: number) {
    await turn();
    const id = `${meta.volumeId}#${meta.partition}`;
    if (this.items.get(id)?.epoch !== expectedEpoch) return false;
    this.items.set(id, meta);
    return true;
  }
  async listPartitions(volumeId: string) {
    return [...this.items.values()].filter((meta) => meta.volumeId === volumeId).map((meta) => meta.partition);
  }
  async removePartition(volumeId: string, partition: number) {
    this.items.delete(`${volumeId}#${partition}`);
  }
}

interface LogState {
  readonly entries: Map<number, LogEntry>;
  readonly leases: Map<number, HeadLease>;
  wanted?: LeaseWanted;
  retired: boolean;
}

/** Note logs: an append takes its op only if nobody holds it (DynamoDB's attribute_not_exists). */
export class FakeNoteLogStore implements NoteLogStore {
  private readonly logs = new Map<string, LogState>();
  /** Calls made, by method name: tests count what a head asked. */
  readonly calls = new Map<string, number>();
  /** Armed by a test: the next appends throw (the outcome unknown to the writer). */
  failAppends = 0;

  private log(log: LogRef): LogState {
    let state = this.logs.get(key(log));
    if (!state) {
      state = { entries: new Map(), leases: new Map(), retired: false };
      this.logs.set(key(log), state);
    }
    return state;
  }
  private async call(name: string): Promise<void> {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    await turn();
  }
  /** The entries of a log in op order (for assertions). */
  entries(log: LogRef): LogEntry[] {
    return [...this.log(log).entries.values()].sort((a, b) => a.op - b.op);
  }
  async append(log: LogRef, entry: LogEntry, lease?: HeadLease) {
    await this.call('append');
    if (this.failAppends > 0) {
      this.failAppends--;
      throw new Error('the store did not answer');
    }
    const state = this.log(log);
    // Check and set with no await between them: the conditional put.
    if (state.entries.has(entry.op)) return false;
    state.entries.set(entry.op, entry);
    if (lease) state.leases.set(entry.op, lease);
    return true;
  }
  async get(log: LogRef, op: number) {
    await this.call('get');
    return this.log(log).entries.get(op);
  }
  async tail(log: LogRef): Promise<TailEntry | undefined> {
    await this.call('tail');
    const last = this.entries(log).at(-1);
    const lease = last && this.log(log).leases.get(last.op);
    return last && (lease ? { ...last, lease } : last);
  }
  private updateLease(log: LogRef, op: number, lease: HeadLease, next: HeadLease | undefined): boolean {
    const leases = this.log(log).leases;
    const held = leases.get(op);
    if (!held || held.holder !== lease.holder || held.until !== lease.until) return false;
    if (next) leases.set(op, next);
    else leases.delete(op);
    return true;
  }
  async breakLease(log: LogRef, op: number, lease: HeadLease) {
    await this.call('breakLease');
    return this.updateLease(log, op, lease, undefined);
  }
  async renewLease(log: LogRef, op: number, lease: HeadLease, until: number) {
    await this.call('renewLease');
    return this.updateLease(log, op, lease, { holder: lease.holder, until });
  }
  async wantLease(log: LogRef, at: number, by: string) {
    await this.call('wantLease');
    this.log(log).wanted = { at, by };
  }
  async leaseWanted(log: LogRef) {
    await this.call('leaseWanted');
    return this.log(log).wanted;
  }
  async first(log: LogRef) {
    return this.entries(log)[0];
  }
  async range(log: LogRef, afterOp: number, uptoOp = Infinity) {
    await this.call('range');
    return this.entries(log).filter((entry) => entry.op > afterOp && entry.op <= uptoOp);
  }
  async trim(log: LogRef, uptoOp: number) {
    const state = this.log(log);
    const gone = [...state.entries.keys()].filter((op) => op <= uptoOp);
    for (const op of gone) state.entries.delete(op);
    return gone.length;
  }
  /** The version of each log's chunk map, as the chunk map store reports it. */
  chunkMaps: FakeChunkMapStore | undefined;
  async changesSince(log: LogRef, afterOp: number): Promise<LogChanges> {
    await this.call('changesSince');
    const state = this.log(log);
    return { entries: this.entries(log).filter((entry) => entry.op > afterOp), chunkMapVersion: this.chunkMaps?.versionOf(log), retired: state.retired };
  }
  async retire(log: LogRef) {
    this.log(log).retired = true;
  }
  async drop(log: LogRef) {
    const state = this.log(log);
    state.entries.clear();
    state.leases.clear();
  }
}

/** Note payloads by (log, note id). */
export class FakeJournalStore implements JournalStore {
  readonly notes = new Map<string, Buffer>();
  readonly reads: string[] = [];
  async put(_sled: number, log: LogRef, noteId: string, payload: Buffer, _meta?: { offset: number; sha256: string }) {
    await turn();
    this.notes.set(`${key(log)}/${noteId}`, Buffer.from(payload));
  }
  private part(log: LogRef, noteId: string, start: number, length: number): Buffer {
    const payload = this.notes.get(`${key(log)}/${noteId}`);
    if (!payload) throw new NoteGoneError(noteId);
    this.reads.push(noteId);
    return Buffer.from(payload.subarray(start, start + length));
  }
  async read(_sled: number, log: LogRef, noteId: string, start: number, length: number) {
    await turn();
    return this.part(log, noteId, start, length);
  }
  async readMany(_sled: number, log: LogRef, parts: readonly NotePart[]) {
    await turn();
    return parts.map((part) => this.part(log, part.noteId, part.start, part.length));
  }
  async list(_sled: number, log: LogRef) {
    const prefix = `${key(log)}/`;
    return [...this.notes.keys()].filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length));
  }
  async listWithTimes(sled: number, log: LogRef) {
    return (await this.list(sled, log)).map((noteId) => ({ noteId, modifiedAt: 0 }));
  }
  async remove(_sled: number, log: LogRef, noteIds: readonly string[]) {
    for (const noteId of noteIds) this.notes.delete(`${key(log)}/${noteId}`);
  }
  async copyAll(from: { sled: number; log: LogRef }, to: { sled: number; log: LogRef }, noteIds: readonly string[]) {
    for (const noteId of noteIds) {
      const payload = this.notes.get(`${key(from.log)}/${noteId}`);
      if (payload) this.notes.set(`${key(to.log)}/${noteId}`, payload);
    }
  }
  async copyToChunk(): Promise<void> {
    throw new Error('not faked');
  }
  async drop(_sled: number, log: LogRef) {
    for (const noteId of await this.list(0, log)) this.notes.delete(`${key(log)}/${noteId}`);
  }
}

/** Chunk maps, replaced only from the expected version. */
export class FakeChunkMapStore implements ChunkMapStore {
  private readonly maps = new Map<string, ChunkMap>();
  versionOf(log: LogRef): number | undefined {
    return this.maps.get(key(log))?.version;
  }
  async get(log: LogRef) {
    await turn();
    return this.maps.get(key(log));
  }
  async getMany(logs: readonly LogRef[]) {
    await turn();
    return logs.map((log) => this.maps.get(key(log))).filter((map): map is ChunkMap => map !== undefined);
  }
  async put(map: ChunkMap, expectedVersion: number | undefined) {
    await turn();
    const log = { volumeId: map.volumeId, partition: map.partition, replicaId: map.replicaId };
    if (this.versionOf(log) !== expectedVersion) return false;
    this.maps.set(key(log), map);
    return true;
  }
}

/** Chunk objects: immutable, by (sled, key). */
export class FakeChunkStore implements ChunkStore {
  readonly objects = new Map<string, Buffer>();
  readonly reads: Array<{ key: string; start: number; length: number }> = [];
  private id = (at: ChunkLocation) => `${at.sled}/${at.key}`;
  async put(at: ChunkLocation, data: Buffer, _sha256?: string) {
    await turn();
    this.objects.set(this.id(at), Buffer.from(data));
  }
  async read(at: ChunkLocation, start: number, length: number) {
    await turn();
    const bytes = this.objects.get(this.id(at));
    if (!bytes) throw new ChunkGoneError(at.key);
    this.reads.push({ key: at.key, start, length });
    return Buffer.from(bytes.subarray(start, start + length));
  }
  async copy(from: ChunkLocation, to: ChunkLocation) {
    const bytes = this.objects.get(this.id(from));
    if (bytes) this.objects.set(this.id(to), bytes);
    return undefined;
  }
  async sha256() {
    return undefined;
  }
  async remove(at: ChunkLocation) {
    this.objects.delete(this.id(at));
  }
  async removeAll(locations: readonly ChunkLocation[]) {
    for (const at of locations) this.objects.delete(this.id(at));
    return locations.length;
  }
  async list(): Promise<ListedChunk[]> {
    return [...this.objects.keys()].map((id) => ({ sled: Number(id.split('/')[0]), key: id.slice(id.indexOf('/') + 1), modifiedAt: 0 }));
  }
  async removePrefix(prefix: string) {
    let removed = 0;
    for (const id of [...this.objects.keys()]) if (id.slice(id.indexOf('/') + 1).startsWith(prefix)) removed += Number(this.objects.delete(id));
    return removed;
  }
}

/** A fresh set of stores wired together (the log store reports the chunk maps' versions). */
export function fakeStores() {
  const chunkMaps = new FakeChunkMapStore();
  const logs = new FakeNoteLogStore();
  logs.chunkMaps = chunkMaps;
  return { metas: new FakeMetaStore(), logs, journal: new FakeJournalStore(), chunkMaps, chunks: new FakeChunkStore() };
}
