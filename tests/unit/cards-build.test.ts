import { buildCard, cardBytes, CARD_NAMES, expandCard, MAX_CARD_BYTES, TEMPLATES, type CardName } from '../../bot/cards';
import { cardProblems, cardTexts, legacyUsers, sampleModels, TAB_URL } from '../helpers/bot-kit';
import { deadlineDigestModel, testFailedModel } from '../../bot/cards/views';
import { tenantDeadlines, viewOf } from '../../src/domain/deadlines';
import { testResult } from '../helpers/bot-kit';

const samples = sampleModels();

describe('card templates', () => {
  test.each(CARD_NAMES as CardName[])('%s template declares schema, version 1.5 and a fallback text', (name) => {
    const t = TEMPLATES[name] as Record<string, unknown>;
    expect(t.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
    expect(t.version).toBe('1.5');
    expect(typeof t.fallbackText).toBe('string');
  });

  test.each(CARD_NAMES as CardName[])('%s expands to a card the adaptivecards parser accepts without a single event', (name) => {
    const card = buildCard(name, samples[name] as never);
    expect(cardProblems(card)).toEqual([]);
    expect(cardBytes(card)).toBeLessThan(MAX_CARD_BYTES);
  });

  test('cardProblems is not a rubber stamp', () => {
    const card = buildCard('Help', samples.Help) as Record<string, any>;
    expect(cardProblems({ ...card, version: '1.6' })).toContain('version is 1.6');
    expect(cardProblems({ ...card, body: [...card.body, { type: 'Bogus' }] }).join(' ')).toMatch(/Unknown element type "Bogus"/);
    expect(cardProblems({ ...card, body: [{ type: 'TextBlock', text: 'x ${y}' }] }).join(' ')).toMatch(/unbound/);
    expect(cardProblems({ ...card, actions: [{ type: 'Action.Execute', title: 'Go', verb: 'go' }] }).join(' ')).toMatch(/lacks a fallback/);
  });

  test('every Action.Execute falls back to an Action.Submit carrying the same verb', () => {
    for (const name of CARD_NAMES) {
      const card = buildCard(name, samples[name] as never) as { actions?: Array<Record<string, any>> };
      for (const a of card.actions ?? []) {
        if (a.type !== 'Action.Execute') continue;
        expect(a.fallback).toEqual({ type: 'Action.Submit', title: a.title, data: { verb: a.verb } });
      }
    }
  });
});

describe('card content', () => {
  test('TestFailed names the failing step, its code and remedy, and offers "Run test again"', () => {
    const card = buildCard('TestFailed', samples.TestFailed);
    const texts = cardTexts(card).join('\n');
    expect(texts).toContain('SECRET_ID_NOT_VALUE');
    expect(texts).toContain('Secret Value');
    expect(texts).toContain('Token');
    const run = (card.actions as any[]).find((a) => a.verb === 'runTest');
    expect(run).toMatchObject({ type: 'Action.Execute', title: 'Run test again' });
    expect(card.fallbackText).toContain('SECRET_ID_NOT_VALUE');
  });

  test('PermissionsMissing lists the missing roles per feature and links to the portal', () => {
    const card = buildCard('PermissionsMissing', samples.PermissionsMissing);
    const texts = cardTexts(card);
    expect(texts).toEqual(expect.arrayContaining(['Email Sync', 'Calendar Sync', 'Calendar Scheduling', 'Missing: Mail.ReadWrite']));
    expect(texts).not.toContain('Task Sync');
    const urls = (card.actions as any[]).filter((a) => a.type === 'Action.OpenUrl').map((a) => a.url);
    expect(urls).toHaveLength(2);
    expect(urls[1]).toContain('/adminconsent?client_id=');
  });

  test('PermissionsMissing leaves the portal buttons out when the links are unknown', () => {
    const card = buildCard('PermissionsMissing', { ...samples.PermissionsMissing, apiPermissionsUrl: '', adminConsentUrl: '' });
    expect((card.actions as any[]).map((a) => a.type)).toEqual(['Action.Execute']);
    expect(cardProblems(card)).toEqual([]);
  });

  test('DeadlineDigest counts down to EWS removal and the SMTP AUTH date and offers "Remind them"', () => {
    const card = buildCard('DeadlineDigest', samples.DeadlineDigest);
    const texts = cardTexts(card).join('\n');
    expect(texts).toMatch(/126\ndays until 1 April 2027: Exchange Web Services stops working/);
    expect(texts).toMatch(/35\ndays until 31 December 2026: SMTP AUTH with Basic Authentication is turned off by default/);
    expect(texts).toMatch(/and \d+ more/);
    expect((card.actions as any[])[0]).toMatchObject({ type: 'Action.Execute', verb: 'remind', title: 'Remind them' });
  });

  test('ReconnectNudge says what stops and when, with a Reconnect deep link to the tab', () => {
    const card = buildCard('ReconnectNudge', samples.ReconnectNudge);
    const texts = cardTexts(card).join('\n');
    // The next date that breaks the connection itself (SMTP AUTH's does not).
    expect(texts).toContain('Exchange Web Services stops working on 1 April 2027 (in 126 days).');
    expect(texts).toContain('Email Sync');
    expect(texts).not.toContain('Task Sync');
    expect((card.actions as any[])[0]).toEqual({ type: 'Action.OpenUrl', title: 'Reconnect', url: TAB_URL, style: 'positive' });
  });

  test('CheckDigest names the first ten who broke, counts the rest, and says who recovered and who is still on Exchange', () => {
    const card = buildCard('CheckDigest', samples.CheckDigest);
    const texts = cardTexts(card).join('\n');
    expect(card.fallbackText).toContain('Health check: 14 connections broke, 2 recovered');
    expect(texts).toContain('and 4 more');
    expect(texts).toMatch(/Recovered\n.+ — Office 365 \(Microsoft Graph\), now connected/);
    expect(texts).toContain('25 connections still use Exchange (EWS): Exchange Web Services stops working on 1 April 2027 (in 126 days).');
    expect(texts).toContain('Office 365 (service account), now failing');
    expect(cardProblems(card)).toEqual([]);
  });

  test('user-supplied text is bound as data, never evaluated as a template', () => {
    const model = testFailedModel(testResult('secret'), { tabUrl: TAB_URL });
    model.message = 'Name ${tabUrl} and @{x}';
    const card = expandCard('TestFailed', model);
    expect(cardTexts(card)).toContain('Name ${tabUrl} and @{x}');
  });
});

describe('card size limit', () => {
  test('a digest of 5,000 users is cut to fit and ends with "and N more"', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const deadlines = tenantDeadlines();
    const users = legacyUsers(5000).map((u) => ({ ...u, displayName: `${u.displayName} ${'x'.repeat(60)}` }));
    const model = deadlineDigestModel({
      deadline: viewOf(deadlines[3], now),
      deadlines,
      now,
      counts: { 'ews-basic': 5000 },
      users,
      moreUsers: 0,
      tabUrl: TAB_URL,
    });
    expect(cardBytes(expandCard('DeadlineDigest', model))).toBeGreaterThan(MAX_CARD_BYTES);
    const card = buildCard('DeadlineDigest', model);
    const bytes = cardBytes(card);
    expect(bytes).toBeLessThanOrEqual(MAX_CARD_BYTES);
    const texts = cardTexts(card);
    const shown = texts.filter((t) => t.includes('@') || t.includes('xxxxx')).length;
    expect(shown).toBeGreaterThan(10);
    expect(texts).toContain(`and ${5000 - shown} more`);
    expect(cardProblems(card)).toEqual([]);
    // The cut is tight: one more user would not have fitted.
    const oneMore = { ...model, users: model.users.slice(0, shown + 1), moreUsers: 5000 - shown - 1 };
    expect(cardBytes(expandCard('DeadlineDigest', oneMore))).toBeGreaterThan(MAX_CARD_BYTES);
  });

  test('a long text is clipped instead of blowing the card up', () => {
    const card = buildCard('Error', { ...samples.Error, message: 'y'.repeat(200_000) });
    expect(cardBytes(card)).toBeLessThan(MAX_CARD_BYTES);
    expect(cardTexts(card).some((t) => t.endsWith('…'))).toBe(true);
  });

  test('a smaller limit trims the lists further', () => {
    const big = buildCard('DeadlineDigest', samples.DeadlineDigest);
    const small = buildCard('DeadlineDigest', samples.DeadlineDigest, cardBytes(big) - 200);
    expect(cardBytes(small)).toBeLessThanOrEqual(cardBytes(big) - 200);
    expect(cardTexts(small).find((t) => /^and \d+ more$/.test(t))).not.toBe(cardTexts(big).find((t) => /^and \d+ more$/.test(t)));
  });
});
