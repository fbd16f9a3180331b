/**
 * Walks the records of a segment held in memory, in order, delivering only committed puts and
 * deletes: batch records are held back until their commit record, and dropped when a batch
 * never commits. Work is done in steps so a caller can yield to the event loop between them.
 */
import {
  FLAG_BATCH,
  headerPlausible,
  KIND_COMMIT,
  KIND_DELETE,
  KIND_MASK,
  KIND_PUT,
  readHeader,
  recordCrcValid,
} from "./record.ts";

/** One record found by the scanner. `buf` holds the whole segment. */
export interface ScannedRecord {
  offset: number;
  length: number;
  seq: number;
  /** KIND_PUT or KIND_DELETE. */
  kind: number;
  keyStart: number;
  keyBytes: number;
  valueBytes: number;
}

/** Options of {@link SegmentScanner}. */
export interface ScannerOptions {
  /** First byte to read. Default 0. */
  start?: number;
  /**
   * Continue past a record that fails its CRC when its framing still holds (the next record
   * is valid or the file ends right after it); `onCorrupt` hears about it. For closed segments.
   */
  skipFramedCorruption?: boolean;
}

/** Sequential, resumable reader of one segment's records. */
export class SegmentScanner {
  #pos: number;
  #pending: ScannedRecord[] = [];
  #pendingStart = -1;
  /** Offset of the first record that could not be read (torn or corrupt), if any. */
  badOffset: number | undefined = undefined;
  /** Offset of a batch dropped because it never committed. */
  droppedBatchOffsets: number[] = [];
  #done = false;
  #lastSeq = 0;

  constructor(readonly buf: Uint8Array, readonly options: ScannerOptions = {}) {
    this.#pos = options.start ?? 0;
  }

  /** Largest seq of any valid record read so far (markers and commits included). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Where the valid, committed prefix of the segment ends: the first bad record or the start
   * of a batch that never committed. Meaningful once `step` returned false.
   */
  get validEnd(): number {
    if (!this.#done) throw new Error("scanner not finished");
    return this.#pendingStart >= 0 ? this.#pendingStart : this.#pos;
  }

  /**
   * Reads up to `recordsMax` records, calling `onRecord` for each committed put or delete and
   * `onCorrupt` for each skipped corrupt record. Returns false when the segment is finished.
   */
  step(
    recordsMax: number,
    onRecord: (r: ScannedRecord) => void,
    onCorrupt?: (r: ScannedRecord) => void,
  ): boolean {
    if (this.#done) return false;
    const buf = this.buf;
    for (let n = 0; n < recordsMax; n++) {
      if (this.#pos === buf.byteLength) return this.#finish();
      const h = readHeader(buf, this.#pos);
      const framed = h !== undefined && headerPlausible(h) &&
        this.#pos + h.length <= buf.byteLength;
      if (!framed || !recordCrcValid(buf, h)) {
        if (
          framed && this.options.skipFramedCorruption && this.#nextIsValid(this.#pos + h.length)
        ) {
          onCorrupt?.(this.#toRecord(h, this.#pos));
          this.#pos += h.length;
          continue;
        }
        this.badOffset = this.#pos;
        return this.#finish();
      }
      const rec = this.#toRecord(h, this.#pos);
      if (h.seq > this.#lastSeq) this.#lastSeq = h.seq;
      this.#pos += h.length;
      const kind = h.flags & KIND_MASK;
      if ((h.flags & FLAG_BATCH) !== 0) {
        if (this.#pendingStart < 0) this.#pendingStart = rec.offset;
        this.#pending.push(rec);
        continue;
      }
      if (kind === KIND_COMMIT) {
        // A commit record ends the batch before it: only now are its records delivered.
        for (const p of this.#pending) onRecord(p);
        this.#pending = [];
        this.#pendingStart = -1;
        continue;
      }
      this.#dropPending();
      if (kind === KIND_PUT || kind === KIND_DELETE) onRecord(rec);
    }
    return true;
  }

  #toRecord(h: NonNullable<ReturnType<typeof readHeader>>, offset: number): ScannedRecord {
    return {
      offset,
      length: h.length,
      seq: h.seq,
      kind: h.flags & KIND_MASK,
      keyStart: offset + 19,
      keyBytes: h.keyBytes,
      valueBytes: h.valueBytes,
    };
  }

  #nextIsValid(offset: number): boolean {
    if (offset === this.buf.byteLength) return true;
    const h = readHeader(this.buf, offset);
    return h !== undefined && headerPlausible(h) && recordCrcValid(this.buf, h);
  }

  #dropPending(): void {
    if (this.#pending.length > 0) this.droppedBatchOffsets.push(this.#pendingStart);
    this.#pending = [];
    this.#pendingStart = -1;
  }

  #finish(): boolean {
    if (this.#pending.length > 0) this.droppedBatchOffsets.push(this.#pendingStart);
    this.#pending = [];
    this.#done = true;
    return false;
  }
}
