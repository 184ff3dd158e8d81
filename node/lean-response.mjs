/**
 * The answer node/fetch.mjs hands out: Node's own `Response` whose body stays the socket's chunks
 * until something asks for `body`. `arrayBuffer()`, `bytes()`, `text()` and `json()` (how the
 * gateway reads an LLM's JSON answer, an embedding, a Redis REST reply) take the chunks as they
 * are; `body` (a stream read as it arrives: SSE, a capped read without a Content-Length), `blob()`,
 * `formData()` and `clone()` get the same ReadableStream as before, made then.
 *
 * Why: per call a ReadableStream, its controller, an enqueue per chunk, then undici's reader,
 * its read promises and the concatenation were ~2 % of ours' main thread per chat request on
 * Node (`npm run bench:profile`, c=8) and several KiB of allocation, for a body that is usually
 * one chunk, read whole.
 *
 * What a caller sees is what it saw: the same statuses, headers and bytes; `bodyUsed` true once
 * a read began; a second read rejecting with undici's `TypeError('Body is unusable: Body has
 * already been read')`; a body errored (an abort, a cut connection) rejecting with that error,
 * unless it had all arrived first; up to 64 KiB read off the socket even if nobody reads it (so
 * its connection goes back to the pool), past that the reader's pace.
 */
import { isDisturbed } from 'node:stream';

const NativeResponse = globalThis.Response;
/** Read off the socket whole even if nobody reads, so a small answer frees its connection. */
const HIGH_WATER = 64 * 1024;
const utf8 = new TextDecoder();
const unusable = () => new TypeError('Body is unusable: Body has already been read');

/** A response body from a node:stream Readable (the socket's answer, or its decoder). */
export class SocketBody {
  #source;
  #done;
  #destroy;
  /** @type {Uint8Array[]} */
  #chunks = [];
  #size = 0;
  #ended = false;
  #failed = false;
  #error;
  #used = false;
  /** @type {{ resolve(bytes: Uint8Array): void, reject(err: unknown): void } | undefined} */
  #reading;
  /** @type {ReadableStream<Uint8Array> | undefined} */
  #stream;
  /** @type {ReadableStreamDefaultController<Uint8Array> | undefined} */
  #controller;

  /**
   * @param {import('node:stream').Readable} source
   * @param {() => void} done  lets go of the caller's signal (the body ended or was cancelled)
   * @param {() => void} destroy  closes the connection (a cancel, or nothing reads on)
   */
  constructor(source, done, destroy) {
    this.#source = source;
    this.#done = done;
    this.#destroy = destroy;
  }

  /** Starts taking the source's chunks. */
  start() {
    this.#source.on('data', (chunk) => this.#push(chunk));
    this.#source.once('end', () => this.#end());
  }

  #push(chunk) {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const c = this.#controller;
    if (c) {
      try {
        c.enqueue(bytes);
      } catch {
        // Errored or cancelled meanwhile: nothing reads on.
        this.#destroy();
        return;
      }
      if ((c.desiredSize ?? 1) <= 0) this.#source.pause();
      return;
    }
    if (this.#failed) return;
    this.#chunks.push(bytes);
    this.#size += bytes.byteLength;
    if (this.#size >= HIGH_WATER && this.#reading === undefined) this.#source.pause();
  }

  #end() {
    this.#done();
    this.#ended = true;
    if (this.#controller) {
      try {
        this.#controller.close();
      } catch {
        // Errored by an abort first.
      }
      return;
    }
    const reading = this.#reading;
    this.#reading = undefined;
    reading?.resolve(this.#take());
  }

  /** The call was aborted or its connection broke: the body errors, unless it is all in already. */
  fail(err) {
    if (this.#controller) {
      try {
        this.#controller.error(err);
      } catch {
        // Closed or errored already.
      }
      return;
    }
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#chunks = [];
    this.#size = 0;
    const reading = this.#reading;
    this.#reading = undefined;
    reading?.reject(err);
  }

  /** Whether a read began (fetch's `bodyUsed`). */
  get used() {
    return this.#stream ? isDisturbed(this.#stream) : this.#used;
  }

  /** The whole body, once, as a Uint8Array over its own ArrayBuffer of exactly its length. */
  bytes() {
    if (this.#stream) {
      const stream = this.#stream;
      if (stream.locked || isDisturbed(stream)) return Promise.reject(unusable());
      return new NativeResponse(stream).bytes();
    }
    if (this.#used) return Promise.reject(unusable());
    this.#used = true;
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      this.#reading = { resolve, reject };
      // Paused at 64 KiB with nobody reading: someone is now.
      this.#source.resume();
    });
  }

  #take() {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    this.#chunks = [];
    this.#size = 0;
    return out;
  }

  /** The body as the ReadableStream fetch answers with: what has arrived, then the rest as it comes. */
  stream() {
    if (this.#stream) return this.#stream;
    if (this.#used) {
      // Read whole already: a stream that says so (disturbed, empty).
      const spent = new ReadableStream();
      void spent.cancel();
      this.#stream = spent;
      return spent;
    }
    this.#stream = new ReadableStream(
      {
        start: (c) => {
          for (const chunk of this.#chunks) c.enqueue(chunk);
          this.#chunks = [];
          this.#size = 0;
          if (this.#failed) c.error(this.#error);
          else if (this.#ended) c.close();
          else this.#controller = c;
        },
        pull: () => {
          this.#source.resume();
        },
        cancel: () => {
          this.#done();
          this.#destroy();
        },
      },
      { highWaterMark: HIGH_WATER, size: (chunk) => chunk.byteLength },
    );
    return this.#stream;
  }

  /** One of two streams of the same bytes; this body reads on from the other (fetch's clone). */
  tee() {
    const [mine, theirs] = this.stream().tee();
    this.#stream = mine;
    return theirs;
  }
}

/** Node's Response over a SocketBody (see the top of this file). */
export class LeanResponse extends NativeResponse {
  #body;

  /**
   * @param {SocketBody} body
   * @param {ResponseInit} init
   */
  constructor(body, init) {
    super(null, init);
    this.#body = body;
  }

  get body() {
    return this.#body.stream();
  }

  get bodyUsed() {
    return this.#body.used;
  }

  bytes() {
    return this.#body.bytes();
  }

  arrayBuffer() {
    return this.#body.bytes().then((bytes) => bytes.buffer);
  }

  text() {
    return this.#body.bytes().then((bytes) => utf8.decode(bytes));
  }

  json() {
    return this.text().then((text) => JSON.parse(text));
  }

  blob() {
    return this.#native().then((res) => res.blob());
  }

  formData() {
    return this.#native().then((res) => res.formData());
  }

  clone() {
    if (this.bodyUsed || this.#body.stream().locked)
      throw new TypeError('Response.clone: Body has already been consumed.');
    return new NativeResponse(this.#body.tee(), {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
  }

  /** The body in a Response of Node's own, for the reads done the stream's way. */
  #native() {
    const stream = this.#body.stream();
    if (stream.locked || isDisturbed(stream)) return Promise.reject(unusable());
    return Promise.resolve(new NativeResponse(stream, { headers: this.headers }));
  }
}
