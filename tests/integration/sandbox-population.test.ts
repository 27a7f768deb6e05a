/** The sandbox at scale: many users with mailboxes in one call, and chosen users broken in bulk, seen through Graph and Entra. */
import type { Sandbox } from '../../src/sandbox';
import { graphClient, msalClient, startTestSandbox } from '../helpers/sandbox';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startTestSandbox();
});
afterAll(async () => {
  await sb?.close();
});

async function appToken(): Promise<string> {
  const secret = sb.seed.serviceAccount.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
  const cca = msalClient(sb, { clientId: sb.seed.serviceAccount.clientId, clientSecret: secret.value });
  return (await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }))!.accessToken;
}

describe('sandbox population', () => {
  it('adds users with active mailboxes inside the access policy, and breaks and restores chosen ones', async () => {
    const users = sb.control.addUsers({ count: 25, prefix: 'bench' });
    expect(users).toHaveLength(25);
    expect(new Set(users.map((u) => u.upn)).size).toBe(25);
    expect(users[0].upn).toMatch(/^bench\d+@contoso\.com$/);
    const client = graphClient(sb, await appToken());
    const inbox = await client.api(`/users/${users[24].upn}/mailFolders/inbox`).get();
    expect(inbox.displayName).toBe('Inbox');
    expect(await client.api(`/users/${users[3].oid}/calendar`).get()).toMatchObject({ isDefaultCalendar: true });

    expect(sb.control.breakUsers({ upns: [users[0].upn, users[1].upn], how: 'no-mailbox' })).toBe(2);
    await expect(client.api(`/users/${users[0].upn}/mailFolders/inbox`).get()).rejects.toMatchObject({ statusCode: 404, code: 'MailboxNotEnabledForRESTAPI' });
    sb.control.breakUsers({ upns: [users[2].upn], how: 'outside-policy' });
    await expect(client.api(`/users/${users[2].upn}/mailFolders/inbox`).get()).rejects.toMatchObject({ statusCode: 403 });
    sb.control.breakUsers({ upns: [users[0].upn, users[2].upn], how: 'restore' });
    expect((await client.api(`/users/${users[0].upn}/mailFolders/inbox`).get()).displayName).toBe('Inbox');
    expect((await client.api(`/users/${users[2].upn}/mailFolders/inbox`).get()).displayName).toBe('Inbox');
    expect(() => sb.control.breakUsers({ upns: ['nobody@contoso.com'], how: 'revoke' })).toThrow(/No sandbox user/);
    expect(() => sb.control.addUsers({ count: 0 })).toThrow(/count/);
  });

  it('finds users added after the directory was searched, by upn and by oid', async () => {
    const client = graphClient(sb, await appToken());
    const first = sb.control.addUsers({ count: 3, prefix: 'early' });
    expect(await client.api(`/users/${first[2].upn}/calendar`).get()).toMatchObject({ isDefaultCalendar: true });
    const later = sb.control.addUsers({ count: 3, prefix: 'late' });
    expect(await client.api(`/users/${later[2].upn}/calendar`).get()).toMatchObject({ isDefaultCalendar: true });
    expect((await client.api(`/users/${later[0].oid}/mailFolders/inbox`).get()).displayName).toBe('Inbox');
    expect((await client.api(`/users/${first[0].oid}/mailFolders/inbox`).get()).displayName).toBe('Inbox');
    await expect(client.api('/users/late999@contoso.com/calendar').get()).rejects.toMatchObject({ statusCode: 404 });
  });
});
