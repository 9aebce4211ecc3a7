// A small msgpack (https://msgpack.org) encoder and decoder: the subset the Stoa protocol uses, complete
// for it. Maps are read into plain objects with string keys; bin into Uint8Array; integers into Numbers,
// or BigInts beyond 2^53 (the protocol's integers all fit in a Number); integers are written in the
// fewest bytes, a Number beyond 32 bits (exact, as every integral double is) as a 64-bit one. Extension
// types are refused.

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export class MsgpackError extends Error {}

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  reserve(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v) { this.reserve(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  u16(v) { this.reserve(2); this.view.setUint16(this.pos, v); this.pos += 2; }
  u32(v) { this.reserve(4); this.view.setUint32(this.pos, v); this.pos += 4; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.pos); this.pos += b.length; }

  value(v, depth) {
    if (depth > 64) throw new MsgpackError("nested too deeply");
    if (v === null || v === undefined) this.u8(0xc0);
    else if (v === false) this.u8(0xc2);
    else if (v === true) this.u8(0xc3);
    else if (typeof v === "number") this.number(v);
    else if (typeof v === "bigint") this.bigint(v);
    else if (typeof v === "string") this.string(v);
    else if (v instanceof Uint8Array) this.bin(v);
    else if (v instanceof ArrayBuffer) this.bin(new Uint8Array(v));
    else if (Array.isArray(v)) {
      this.header(v.length, 0x90, 0xdc, 0xdd);
      for (const item of v) this.value(item, depth + 1);
    } else if (typeof v === "object") {
      const keys = Object.keys(v).filter((k) => v[k] !== undefined);
      this.header(keys.length, 0x80, 0xde, 0xdf);
      for (const k of keys) { this.string(k); this.value(v[k], depth + 1); }
    } else throw new MsgpackError(`cannot encode a ${typeof v}`);
  }

  header(n, fix, c16, c32) {
    if (n < 16) this.u8(fix | n);
    else if (n < 0x10000) { this.u8(c16); this.u16(n); }
    else { this.u8(c32); this.u32(n); }
  }

  number(v) {
    if (!Number.isInteger(v)) { this.reserve(9); this.view.setUint8(this.pos, 0xcb); this.view.setFloat64(this.pos + 1, v); this.pos += 9; return; }
    if (v >= 0) {
      if (v < 0x80) this.u8(v);
      else if (v < 0x100) { this.u8(0xcc); this.u8(v); }
      else if (v < 0x10000) { this.u8(0xcd); this.u16(v); }
      else if (v < 0x100000000) { this.u8(0xce); this.u32(v); }
      else this.bigint(BigInt(v));
    } else {
      if (v >= -32) this.u8(v & 0xff);
      else if (v >= -0x80) { this.u8(0xd0); this.reserve(1); this.view.setInt8(this.pos, v); this.pos += 1; }
      else if (v >= -0x8000) { this.u8(0xd1); this.reserve(2); this.view.setInt16(this.pos, v); this.pos += 2; }
      else if (v >= -0x80000000) { this.u8(0xd2); this.reserve(4); this.view.setInt32(this.pos, v); this.pos += 4; }
      else this.bigint(BigInt(v));
    }
  }

  bigint(v) {
    this.reserve(9);
    if (v >= 0n) {
      if (v >= 1n << 64n) throw new MsgpackError("integer beyond 64 bits");
      this.view.setUint8(this.pos, 0xcf); this.view.setBigUint64(this.pos + 1, v);
    } else {
      if (v < -(1n << 63n)) throw new MsgpackError("integer beyond 64 bits");
      this.view.setUint8(this.pos, 0xd3); this.view.setBigInt64(this.pos + 1, v);
    }
    this.pos += 9;
  }

  string(s) {
    const b = utf8Encoder.encode(s);
    if (b.length < 32) this.u8(0xa0 | b.length);
    else if (b.length < 0x100) { this.u8(0xd9); this.u8(b.length); }
    else if (b.length < 0x10000) { this.u8(0xda); this.u16(b.length); }
    else { this.u8(0xdb); this.u32(b.length); }
    this.bytes(b);
  }

  bin(b) {
    if (b.length < 0x100) { this.u8(0xc4); this.u8(b.length); }
    else if (b.length < 0x10000) { this.u8(0xc5); this.u16(b.length); }
    else { this.u8(0xc6); this.u32(b.length); }
    this.bytes(b);
  }
}

/** Encode a value (objects, arrays, strings, numbers, BigInts, booleans, null, Uint8Array) as msgpack. */
export function encode(value) {
  const w = new Writer();
  w.value(value, 0);
  return w.buf.slice(0, w.pos);
}

class Reader {
  constructor(bytes) {
    this.buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.buf.length) throw new MsgpackError("truncated");
    const at = this.pos;
    this.pos += n;
    return at;
  }

  int64(signed) {
    const at = this.need(8);
    const v = signed ? this.view.getBigInt64(at) : this.view.getBigUint64(at);
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }

  str(n) { const at = this.need(n); return utf8Decoder.decode(this.buf.subarray(at, at + n)); }
  bin(n) { const at = this.need(n); return this.buf.slice(at, at + n); }

  array(n, depth) {
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n, depth) {
    const out = Object.create(null);
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      if (typeof key !== "string" && typeof key !== "number") throw new MsgpackError("a map key that is not a string");
      out[key] = this.value(depth + 1);
    }
    return out;
  }

  value(depth) {
    if (depth > 64) throw new MsgpackError("nested too deeply");
    const b = this.view.getUint8(this.need(1));
    if (b < 0x80) return b;
    if (b < 0x90) return this.map(b & 0x0f, depth);
    if (b < 0xa0) return this.array(b & 0x0f, depth);
    if (b < 0xc0) return this.str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    const v = this.view;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(v.getUint8(this.need(1)));
      case 0xc5: return this.bin(v.getUint16(this.need(2)));
      case 0xc6: return this.bin(v.getUint32(this.need(4)));
      case 0xca: return v.getFloat32(this.need(4));
      case 0xcb: return v.getFloat64(this.need(8));
      case 0xcc: return v.getUint8(this.need(1));
      case 0xcd: return v.getUint16(this.need(2));
      case 0xce: return v.getUint32(this.need(4));
      case 0xcf: return this.int64(false);
      case 0xd0: return v.getInt8(this.need(1));
      case 0xd1: return v.getInt16(this.need(2));
      case 0xd2: return v.getInt32(this.need(4));
      case 0xd3: return this.int64(true);
      case 0xd9: return this.str(v.getUint8(this.need(1)));
      case 0xda: return this.str(v.getUint16(this.need(2)));
      case 0xdb: return this.str(v.getUint32(this.need(4)));
      case 0xdc: return this.array(v.getUint16(this.need(2)), depth);
      case 0xdd: return this.array(v.getUint32(this.need(4)), depth);
      case 0xde: return this.map(v.getUint16(this.need(2)), depth);
      case 0xdf: return this.map(v.getUint32(this.need(4)), depth);
      default: throw new MsgpackError(`unsupported msgpack type 0x${b.toString(16)}`);
    }
  }
}

/** Decode one msgpack value that fills `bytes` exactly (an ArrayBuffer or Uint8Array). */
export function decode(bytes) {
  const r = new Reader(bytes);
  const value = r.value(0);
  if (r.pos !== r.buf.length) throw new MsgpackError("trailing bytes after the value");
  return value;
}
