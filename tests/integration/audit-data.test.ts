/**
 * The audit log records what leaves and what overwrites data: a CSV export (who, how many rows,
 * which filters) and an import (created / changed / unchanged, which fields, from what to what),
 * each with the actor's UPN and object id.
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const ADELE = 'adele.vance@contoso.com';

describe('audit of connection export and import', () => {
  let p: TestProduct;
  let admin: string;
  let adeleOid: string;
  const latest = async (action: string) => (await p.store.listAudit(CONTOSO, { limit: 50 })).find((a) => a.action === action);
  const importCsv = (csv: string) => p.call('POST', '/api/admin/connections/import', { token: admin, raw: csv, headers: { 'content-type': 'text/csv' } });

  beforeAll(async () => {
    p = await startTestProduct();
    admin = await p.ssoToken(ADELE);
    adeleOid = p.sandbox.seed.users.find((u) => u.upn === ADELE)!.oid;
  });
  afterAll(async () => {
    await p?.close();
  });

  it('records a CSV export with the actor, the row count and the filters', async () => {
    const csv = await p.call('GET', '/api/admin/connections.csv?state=connected', { token: admin });
    expect(csv.status).toBe(200);
    const rows = csv.text.trim().split('\n').length - 1;
    expect(rows).toBeGreaterThan(0);
    expect(await latest('connections.exported')).toMatchObject({
      actor: ADELE,
      details: { actorOid: adeleOid, count: rows, filters: { state: 'connected' } },
    });
  });

  it('records what an import created, changed (which fields, from what to what) and left unchanged', async () => {
    const first = await importCsv('upn,kind,lastSyncAt,displayName,state\nnew.one@contoso.com,ews-basic,2026-11-01T08:00:00Z,New One,connected\n');
    expect(first.status).toBe(200);
    expect(await latest('connections.imported')).toMatchObject({
      actor: ADELE,
      details: { actorOid: adeleOid, count: 1, created: 1, changed: 0, unchanged: 0, fields: {}, changes: [] },
    });

    const second = await importCsv(
      [
        'upn,kind,lastSyncAt,displayName,state',
        'new.one@contoso.com,ews-basic,2026-11-01T08:00:00Z,New One,connected',
        'alex.wilber@contoso.com,ews-basic,2026-11-20T07:58:00Z,Renamed Alex,failing',
        'another.one@contoso.com,ews-oauth,,,',
      ].join('\n'),
    );
    expect(second.body).toEqual({ imported: 3 });
    const entry = await latest('connections.imported');
    expect(entry).toMatchObject({
      actor: ADELE,
      details: {
        actorOid: adeleOid,
        count: 3,
        created: 1,
        changed: 1,
        unchanged: 1,
        fields: { state: 1, displayName: 1 },
        changes: [
          {
            upn: 'alex.wilber@contoso.com',
            kind: 'ews-basic',
            from: { state: 'connected', displayName: 'Alex Wilber' },
            to: { state: 'failing', displayName: 'Renamed Alex' },
          },
        ],
      },
    });
    // The admin reads the same through the API.
    const audit = await p.call('GET', '/api/admin/audit', { token: admin });
    expect(audit.body.items.find((a: { action: string }) => a.action === 'connections.imported').details.changed).toBe(1);
  });
});
