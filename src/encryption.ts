import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** `encoding` metadata of a payload this codec encrypted. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key a payload was encrypted with, so old payloads stay readable after a rotation. */
export const KEY_ID_METADATA = 'encryption-key-id';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/** A payload names a key this process does not have, or its ciphertext does not authenticate. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

/**
 * The keys a process holds. The first key encrypts everything new; every key decrypts. Rotating is: put a new key
 * first, deploy it to every client and worker, and drop the old one only when no history still needs it (the
 * namespace's retention after the last run that used it).
 */
export class Keyring {
  readonly active: EncryptionKey;
  private readonly byId: ReadonlyMap<string, EncryptionKey>;

  constructor(keys: EncryptionKey[]) {
    if (keys.length === 0) throw new TypeError('a keyring needs at least one key');
    const byId = new Map<string, EncryptionKey>();
    for (const k of keys) {
      if (!KEY_ID_PATTERN.test(k.id))
        throw new TypeError(`encryption key id "${k.id}" must be 1–64 letters, digits, ".", "_" or "-"`);
      if (k.key.length !== KEY_BYTES)
        throw new TypeError(`encryption key "${k.id}" must be ${KEY_BYTES} bytes (AES-256), got ${k.key.length}`);
      if (byId.has(k.id)) throw new TypeError(`encryption key id "${k.id}" is listed twice`);
      byId.set(k.id, k);
    }
    this.active = keys[0]!;
    this.byId = byId;
  }

  /**
   * Parses `id:base64key,id:base64key,…` (the first encrypts). `source` names where the text came from, for errors.
   * Keys are never echoed in an error.
   */
  static parse(spec: string, source = 'JOBS_ENCRYPTION_KEYS'): Keyring {
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (entries.length === 0) throw new TypeError(`${source} has no keys; expected "id:base64key[,id:base64key…]"`);
    const keys = entries.map((entry, i) => {
      const colon = entry.indexOf(':');
      if (colon <= 0)
        throw new TypeError(`${source} entry ${i + 1} must be "id:base64key" (generate one with \`jobctl keygen\`)`);
      const id = entry.slice(0, colon);
      const encoded = entry.slice(colon + 1);
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new TypeError(`${source}: key "${id}" is not base64`);
      return { id, key: Buffer.from(encoded, 'base64') };
    });
    try {
      return new Keyring(keys);
    } catch (err) {
      throw new TypeError(`${source}: ${(err as Error).message}`);
    }
  }

  /** A new random key as `id:base64key`, for JOBS_ENCRYPTION_KEYS. */
  static generate(id: string): string {
    if (!KEY_ID_PATTERN.test(id)) throw new TypeError(`key id "${id}" must be 1–64 letters, digits, ".", "_" or "-"`);
    return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  get(id: string): EncryptionKey | undefined {
    return this.byId.get(id);
  }
}

/**
 * AES-256-GCM payload codec. Each payload — metadata and data, serialized as the Payload protobuf — is encrypted
 * with the keyring's active key under a fresh 96-bit IV; the key id is authenticated as additional data, so a
 * payload cannot be relabelled with another key's id. Stored data is `iv ‖ ciphertext ‖ tag`.
 *
 * Payloads that are not encrypted decode unchanged: histories written before encryption was switched on stay
 * readable. A payload naming a key this process lacks fails loudly with the key id — never silently as garbage.
 */
export class EncryptionCodec implements PayloadCodec {
  /** Without a keyring it encrypts nothing, and an encrypted payload fails with what to configure. */
  constructor(readonly keyring: Keyring | undefined) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return this.keyring ? payloads.map((p) => this.encrypt(p)) : payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  encrypt(payload: Payload): Payload {
    if (!this.keyring) throw new TypeError('no encryption keys configured (JOBS_ENCRYPTION_KEYS)');
    const { id, key } = this.keyring.active;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv);
    cipher.setAAD(utf8.encode(id));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) }, data };
  }

  decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    if (!rawId) throw new PayloadDecryptionError(`encrypted payload has no ${KEY_ID_METADATA} metadata`);
    const id = fromUtf8.decode(rawId);
    if (!this.keyring)
      throw new PayloadDecryptionError(
        `payload is encrypted (key "${id}") and this process has no keys: set JOBS_ENCRYPTION_KEYS to read it`,
      );
    const found = this.keyring.get(id);
    if (!found) {
      throw new PayloadDecryptionError(
        `payload was encrypted with key "${id}", which is not in this process's keyring ` +
          `(${this.keyring.ids.join(', ')}); ` +
          'add it to JOBS_ENCRYPTION_KEYS (after the active key) to read it',
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`encrypted payload (key "${id}") is truncated`);
    const decipher = createDecipheriv(ALGORITHM, found.key, data.subarray(0, IV_BYTES));
    decipher.setAAD(utf8.encode(id));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload (key "${id}") failed authentication: altered, or a different key under the same id`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain) as Payload;
  }
}

/**
 * The data converter for clients and workers: encryption when a keyring is configured. Without one, payloads stay
 * plain JSON, and an encrypted payload fails with an error that says which key to configure (not "unknown encoding").
 */
export function dataConverterFor(keyring: Keyring | undefined): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keyring)] };
}
