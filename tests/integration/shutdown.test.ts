/** Graceful shutdown: in-flight requests finish, new ones are turned away, the store closes last. */
import { startTestProduct } from '../helpers/product';

it('finishes a request in flight while refusing new ones, then stops', async () => {
  const p = await startTestProduct();
  const admin = await p.ssoToken('adele.vance@contoso.com');
  // Park Entra so the service-account test is still running when shutdown starts.
  p.sandbox.control.hold({ target: 'entra' });
  const before = p.sandbox.control.stats().entra.requests;
  const inFlight = fetch(`${p.url}/api/admin/service-account/test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      tenant: 'contoso.com',
      clientId: '66193c42-2023-423c-acba-f7f851f7f085',
      clientSecret: 'demo-sync-2026-sandbox-only-value',
      testAccount: 'megan.bowen@contoso.com',
      features: ['calendarSync'],
    }),
  });
  // Wait until the request is really parked at the sandbox.
  for (let i = 0; i < 400 && p.sandbox.control.stats().entra.requests === before; i++) await new Promise((r) => setTimeout(r, 25));
  expect(p.sandbox.control.stats().entra.requests).toBeGreaterThan(before);

  const stopping = p.stop();
  const refused = await fetch(`${p.url}/healthz`).then(
    (r) => r.status,
    () => 'connection refused',
  );
  expect([503, 'connection refused']).toContain(refused);

  p.sandbox.control.release();
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect((await res.json()).steps.length).toBeGreaterThan(0);
  await stopping;
  await expect(p.store.ping()).rejects.toThrow();
  await p.sandbox.close();
});
