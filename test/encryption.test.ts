import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../src/config';
import {
  EncryptionCodec,
  ENCRYPTED_ENCODING,
  Keyring,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../src/encryption';

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const key = (id: string) => ({ id, key: randomBytes(32) });
const jsonPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

describe('EncryptionCodec (AES-256-GCM)', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const codec = new EncryptionCodec(new Keyring([k1]));
  const secret = { invoiceId: 424242, email: 'ada@example.com' };

  it('stores ciphertext labelled with the key id, and decodes to the exact payload', async () => {
    const original = jsonPayload(secret);
    const [encrypted] = await codec.encode([original]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(encrypted!.metadata!)).toEqual(['encoding', KEY_ID_METADATA]); // json/plain is inside
    const raw = Buffer.from(encrypted!.data!);
    for (const leak of ['424242', 'ada@example.com', 'json/plain']) expect(raw.includes(leak)).toBe(false);

    const [decoded] = await codec.decode([encrypted!]);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(secret);
  });

  it('uses a fresh IV per payload: the same value never encrypts the same way twice', async () => {
    const [a, b] = await codec.encode([jsonPayload(secret), jsonPayload(secret)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes payloads that were never encrypted through unchanged (histories from before encryption)', async () => {
    const plain = jsonPayload(secret);
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('rotates: the first key encrypts, older keys still decrypt, a missing key fails naming it', async () => {
    const [old] = await new EncryptionCodec(new Keyring([k1])).encode([jsonPayload(secret)]);
    const rotated = new EncryptionCodec(new Keyring([k2, k1]));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual(secret);
    const [fresh] = await rotated.encode([jsonPayload(secret)]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');

    const withoutK1 = new EncryptionCodec(new Keyring([k2]));
    await expect(withoutK1.decode([old!])).rejects.toThrow(PayloadDecryptionError);
    await expect(withoutK1.decode([old!])).rejects.toThrow(
      /encrypted with key "k1", which is not in this process's keyring \(k2\)/,
    );
  });

  it('without keys: encrypts nothing, and an encrypted payload says which key to configure', async () => {
    const keyless = new EncryptionCodec(undefined);
    const plain = jsonPayload(secret);
    expect(await keyless.encode([plain])).toEqual([plain]);
    const [encrypted] = await codec.encode([plain]);
    await expect(keyless.decode([encrypted!])).rejects.toThrow(
      /payload is encrypted \(key "k1"\) and this process has no keys: set JOBS_ENCRYPTION_KEYS/,
    );
  });

  it('rejects altered ciphertext and a payload relabelled with another key id', async () => {
    const [encrypted] = await codec.encode([jsonPayload(secret)]);
    const flipped = Buffer.from(encrypted!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: flipped }])).rejects.toThrow(/key "k1"\) failed authentication/);

    const both = new EncryptionCodec(new Keyring([k1, { id: 'k2', key: k1.key }]));
    const relabelled = { ...encrypted!, metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(both.decode([relabelled])).rejects.toThrow(/key "k2"\) failed authentication/); // the id is authenticated
  });
});

describe('Keyring configuration (JOBS_ENCRYPTION_KEYS)', () => {
  it('parses id:base64 entries, first active, from a generated key', () => {
    const a = Keyring.generate('2026-11');
    const b = Keyring.generate('2026-05');
    const ring = Keyring.parse(`${a}, ${b}`);
    expect(ring.active.id).toBe('2026-11');
    expect(ring.ids).toEqual(['2026-11', '2026-05']);
    expect(readSettings({ JOBS_ENCRYPTION_KEYS: a }).encryption?.active.id).toBe('2026-11');
    expect(readSettings({}).encryption).toBeUndefined();
  });

  it('names what is wrong, never echoing key material', () => {
    const material = (bytes: number) => randomBytes(bytes).toString('base64');
    const [short, bare, notBase64, dupA, dupB, badId] = [16, 32, 24, 32, 32, 32].map(material);
    // Each bad setting, the message it must give, and the key material in it that the message must not repeat.
    const attempts: Array<[spec: string, says: RegExp, secrets: string[]]> = [
      [`k1:${short}`, /key "k1" must be 32 bytes \(AES-256\), got 16/, [short!]],
      [bare!, /entry 1 must be "id:base64key"/, [bare!]], // a key pasted without its id
      [`a:${dupA},a:${dupB}`, /"a" is listed twice/, [dupA!, dupB!]],
      [`k1:${notBase64}!!`, /key "k1" is not base64/, [notBase64!]],
      [`bad id:${badId}`, /key id "bad id" must be/, [badId!]],
      [' , ', /has no keys/, []],
    ];
    for (const [spec, says, secrets] of attempts) {
      let error: Error | undefined;
      try {
        readSettings({ JOBS_ENCRYPTION_KEYS: spec });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message, spec).toMatch(says);
      expect(error?.message).toMatch(/^JOBS_ENCRYPTION_KEYS/);
      for (const secret of secrets) {
        // Neither the whole key nor a recognisable piece of it (its first 8 characters).
        expect(error?.message, spec).not.toContain(secret);
        expect(error?.message, spec).not.toContain(secret.slice(0, 8));
      }
    }
  });

  it('requires a codec token that is long and URL-safe', () => {
    expect(() => readSettings({ JOBS_CODEC_TOKEN: 'short' })).toThrow(
      /JOBS_CODEC_TOKEN must be at least 24 URL-safe characters/,
    );
    expect(() => readSettings({ JOBS_CODEC_TOKEN: 'has/a/slash/and/is/long/enough' })).toThrow(/URL-safe/);
    expect(readSettings({ JOBS_CODEC_TOKEN: 'a'.repeat(32) }).codecToken).toBe('a'.repeat(32));
  });
});
