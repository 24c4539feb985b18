import { afterEach, describe, expect, it } from 'vitest';
import { checkSoak } from '../bench/soak-check';
import { FakeVendor } from '../src/testing/fake-vendor';

let vendors: FakeVendor[] = [];
afterEach(async () => {
  await Promise.all(vendors.map((v) => v.stop()));
  vendors = [];
});

async function started(vendor: FakeVendor): Promise<FakeVendor> {
  vendors.push(vendor);
  await vendor.start(0);
  return vendor;
}

const send = (vendor: FakeVendor, key: string, body: unknown) =>
  fetch(`${vendor.url}${vendor.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });

describe('FakeVendor effects per record', () => {
  it('keeps its idempotency: a key already applied is answered from its record, counted as replayed', async () => {
    const vendor = await started(new FakeVendor());
    const first = (await (await send(vendor, 'k1', { event: 'a' })).json()) as { reference: string };
    const again = (await (await send(vendor, 'k1', { event: 'a' })).json()) as { reference: string };
    expect(again.reference).toBe(first.reference);
    expect(vendor.effects.get('k1')).toMatchObject({ applied: 1, replayed: 1 });
    expect(vendor.replayed).toBe(1);
    expect(vendor.records.get(JSON.stringify({ event: 'a' }))).toEqual({ applied: 1, keys: new Set(['k1']) });
  });

  it('counts one payload sent under two keys as two deliveries of that payload', async () => {
    const vendor = await started(new FakeVendor());
    await send(vendor, 'k1', { event: 'a' });
    await send(vendor, 'k2', { event: 'a' });
    await send(vendor, 'k3', { event: 'b' });
    expect(vendor.records.get(JSON.stringify({ event: 'a' }))).toEqual({ applied: 2, keys: new Set(['k1', 'k2']) });
    expect(vendor.records.get(JSON.stringify({ event: 'b' }))?.applied).toBe(1);
    expect(vendor.replayed).toBe(0);
  });

  it('counts charges per payment with recordOf, whatever else the body holds', async () => {
    const gateway = await started(
      new FakeVendor({
        path: '/v1/charges',
        recordOf: (body) => `payment ${(JSON.parse(body) as { paymentId: number }).paymentId}`,
      }),
    );
    await send(gateway, 'payment/5', { paymentId: 5, amountCents: 100 });
    await send(gateway, 'payment/5/retry', { paymentId: 5, amountCents: 101 });
    expect(gateway.records.get('payment 5')).toEqual({ applied: 2, keys: new Set(['payment/5', 'payment/5/retry']) });
  });

  it('negative control: applyTwice delivers a payload twice, and the soak check fails naming it', async () => {
    let first = 0;
    const vendor = await started(new FakeVendor({ applyTwice: () => ++first === 2 }));
    for (const n of [1, 2, 3]) await send(vendor, `webhook-payload/${n}`, { event: 'invoice.paid', soak: n });
    await send(vendor, 'webhook-payload/2', { event: 'invoice.paid', soak: 2 }); // a retry: replayed, not applied
    expect(vendor.effects.get('webhook-payload/2')).toMatchObject({ applied: 2, replayed: 1 });

    // As the soak names them: the payload whose data is the body.
    const payloadOf = new Map([1, 2, 3].map((n) => [JSON.stringify({ event: 'invoice.paid', soak: n }), n]));
    const deliveries = new Map(
      [...vendor.records].map(([body, effect]) => [`webhook payload ${payloadOf.get(body)}`, effect.applied]),
    );
    const none = { kills: 0, historyRestarts: 0, postgresRestarts: 0 };
    const check = checkSoak({
      effects: { deliveries, charges: new Map(), documents: new Map(), rows: new Map() },
      scriptedDead: 0,
      deadAsDesigned: 0,
      dead: [],
      scheduled: none,
      done: none,
    });
    expect(check.problems).toEqual([
      'vendor deliveries per webhook payload: 1 records had more than one: webhook payload 2 ×2',
    ]);
  });
});
