import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { dataConverterFor, EncryptionCodec, Keyring, PayloadDecryptionError } from '../src/encryption';

// Keyrings and codecs are built inside each test, never while the file loads: Stryker activates a mutant only once
// the tests start, and a file that fails while loading counts as no failed test.
const key = (id: string) => ({ id, key: randomBytes(32) });
const base64Key = () => randomBytes(32).toString('base64');
const utf8 = (text: string) => Buffer.from(text, 'utf8');

describe('the encrypted payload format (stored in histories: never change it)', () => {
  it('labels a payload binary/encrypted with the encryption-key-id metadata; data is iv ‖ ciphertext ‖ tag', () => {
    const payload = defaultPayloadConverter.toPayload(1);
    const encrypted = new EncryptionCodec(new Keyring([key('k1')])).encrypt(payload);
    expect(
      Object.fromEntries(Object.entries(encrypted.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString()])),
    ).toEqual({ encoding: 'binary/encrypted', 'encryption-key-id': 'k1' });
    // GCM is a stream mode: the ciphertext is as long as the serialized payload.
    expect(encrypted.data!.length).toBe(12 + temporal.api.common.v1.Payload.encode(payload).finish().length + 16);
  });
});

describe('Keyring', () => {
  it('needs at least one key', () => {
    expect(() => new Keyring([])).toThrow(new TypeError('a keyring needs at least one key'));
  });

  it('accepts ids of 1 to 64 letters, digits, ".", "_" and "-", and refuses others', () => {
    for (const id of ['a', 'K-2026.11_b', 'x'.repeat(64)]) expect(new Keyring([key(id)]).active.id).toBe(id);
    for (const id of ['', 'x'.repeat(65), 'bad id', 'k/1']) {
      expect(() => new Keyring([key(id)])).toThrow(
        new TypeError(`encryption key id "${id}" must be 1–64 letters, digits, ".", "_" or "-"`),
      );
    }
  });

  it('needs 32-byte keys and distinct ids', () => {
    expect(() => new Keyring([{ id: 'k1', key: randomBytes(31) }])).toThrow(
      new TypeError('encryption key "k1" must be 32 bytes (AES-256), got 31'),
    );
    expect(() => new Keyring([key('k1'), key('k1')])).toThrow(new TypeError('encryption key id "k1" is listed twice'));
    const ring = new Keyring([key('k1'), key('k2')]);
    expect([ring.active.id, ring.ids, ring.get('k2')?.id, ring.get('k3')]).toEqual([
      'k1',
      ['k1', 'k2'],
      'k2',
      undefined,
    ]);
  });

  it('parses each entry as id:base64, numbering the entry that is wrong', () => {
    expect(() => Keyring.parse(`a:${base64Key()},:${base64Key()}`, 'KEYS')).toThrow(
      new TypeError('KEYS entry 2 must be "id:base64key" (generate one with `jobctl keygen`)'),
    );
    expect(() => Keyring.parse('')).toThrow(
      new TypeError('JOBS_ENCRYPTION_KEYS has no keys; expected "id:base64key[,id:base64key…]"'),
    );
    // Only the whole value counts as base64, not a valid tail.
    expect(() => Keyring.parse(`k1:!!${base64Key()}`)).toThrow(
      new TypeError('JOBS_ENCRYPTION_KEYS: key "k1" is not base64'),
    );
    expect(() => Keyring.parse(`k1:${base64Key()}!!`)).toThrow(/key "k1" is not base64/);
  });

  it('generates id:base64 of a fresh 32-byte key, and refuses a bad id', () => {
    const [id, encoded] = Keyring.generate('2026-11').split(':');
    expect(id).toBe('2026-11');
    expect(Buffer.from(encoded!, 'base64')).toHaveLength(32);
    expect(Keyring.generate('a')).not.toBe(Keyring.generate('a'));
    expect(() => Keyring.generate('bad id')).toThrow(
      new TypeError('key id "bad id" must be 1–64 letters, digits, ".", "_" or "-"'),
    );
  });
});

describe('EncryptionCodec edge cases', () => {
  const encryptedWith = (ring: Keyring) => new EncryptionCodec(ring).encrypt(defaultPayloadConverter.toPayload('hi'));

  it('a PayloadDecryptionError says so by name', () => {
    expect(new PayloadDecryptionError('x').name).toBe('PayloadDecryptionError');
  });

  it('cannot encrypt without keys', () => {
    expect(() => new EncryptionCodec(undefined).encrypt(defaultPayloadConverter.toPayload(1))).toThrow(
      new TypeError('no encryption keys configured (JOBS_ENCRYPTION_KEYS)'),
    );
  });

  it('passes a payload without metadata through unchanged', () => {
    const bare: Payload = { data: utf8('raw') };
    expect(new EncryptionCodec(new Keyring([key('k1')])).decrypt(bare)).toBe(bare);
  });

  it('refuses an encrypted payload that names no key', () => {
    const codec = new EncryptionCodec(new Keyring([key('k1')]));
    const { metadata, data } = encryptedWith(codec.keyring!);
    expect(() => codec.decrypt({ metadata: { encoding: metadata!.encoding! }, data })).toThrow(
      new PayloadDecryptionError('encrypted payload has no encryption-key-id metadata'),
    );
  });

  it('lists every key it has when a payload names another, and says where to add it', () => {
    const payload = encryptedWith(new Keyring([key('old')]));
    expect(() => new EncryptionCodec(new Keyring([key('k1'), key('k2')])).decrypt(payload)).toThrow(
      new PayloadDecryptionError(
        'payload was encrypted with key "old", which is not in this process\'s keyring (k1, k2); ' +
          'add it to JOBS_ENCRYPTION_KEYS (after the active key) to read it',
      ),
    );
  });

  it('calls data shorter than IV and tag truncated; exactly IV and tag is checked (and fails) as ciphertext', () => {
    const ring = new Keyring([key('k1')]);
    const codec = new EncryptionCodec(ring);
    const { metadata } = encryptedWith(ring);
    expect(() => codec.decrypt({ metadata, data: new Uint8Array(27) })).toThrow(
      new PayloadDecryptionError('encrypted payload (key "k1") is truncated'),
    );
    expect(() => codec.decrypt({ metadata })).toThrow(/is truncated/);
    expect(() => codec.decrypt({ metadata, data: new Uint8Array(28) })).toThrow(/failed authentication/);
  });

  it('dataConverterFor gives clients and workers the codec over the keyring', async () => {
    const ring = new Keyring([key('k1')]);
    const { payloadCodecs } = dataConverterFor(ring);
    expect(payloadCodecs).toHaveLength(1);
    const [encrypted] = await payloadCodecs![0]!.encode([defaultPayloadConverter.toPayload('hi')]);
    expect(Buffer.from(encrypted!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(defaultPayloadConverter.fromPayload((await new EncryptionCodec(ring).decode([encrypted!]))[0]!)).toBe('hi');
  });
});
