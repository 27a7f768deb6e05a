import { buildCard, cardBytes, escapeCardMarkdown, MAX_CARD_BYTES, plainFromCardMarkdown, type CardName } from '../../bot/cards';
import {
  deadlineDigestModel,
  errorModel,
  helpModel,
  permissionsMissingModel,
  reconnectNudgeModel,
  secretExpiringModel,
  statusModel,
  testFailedModel,
  testPassedModel,
} from '../../bot/cards/views';
import { activityFromPayload, cardPayload } from '../../bot/payload';
import { tenantDeadlines, viewOf } from '../../src/domain/deadlines';
import { cardProblems, cardTexts, connection, legacyUsers, PORTAL, summary, TAB_URL, testResult } from '../helpers/bot-kit';

/**
 * What a CommonMark renderer would still read as markup in `text`: an unescaped emphasis, link,
 * code, strikethrough or angle-bracket character (an underscore only at a word boundary), a block
 * marker at the start, or a line break. Written from the spec, independently of the escaper.
 */
function liveMarkup(text: string): string[] {
  const found: string[] = [];
  if (/[\r\n\u2028\u2029]/.test(text)) found.push('line break');
  if (/^(?:[-+#]|\d+[.)])/.test(text)) found.push(`block marker "${text.slice(0, 3)}"`);
  const word = (c: string | undefined) => !!c && /[\p{L}\p{N}]/u.test(c);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (i === text.length - 1) found.push('trailing backslash');
      i++; // the escaped character is literal
      continue;
    }
    if ('*~`[]<>'.includes(c)) found.push(`${c} at ${i}`);
    if (c === '_' && !(word(text[i - 1]) && word(text[i + 1]))) found.push(`_ at ${i}`);
  }
  return found;
}

const HOSTILE = [
  '*Boss* [click](https://evil.example)',
  '**Boss** __CEO__ ~~fired~~ `code`',
  '[Reset your password](https://evil.example/login)',
  '<https://evil.example> <at>Everyone</at>',
  '- first\n- second\r\n1. third',
  '# Heading',
  '1) list',
  '+ plus',
  '\\**bold** after a backslash',
  'trailing backslash \\',
  '_init_ and snake_case_name',
  'line\u2028separator',
  '![image](https://evil.example/x.png)',
];

describe('escapeCardMarkdown', () => {
  test('a display name with markup shows as typed: no bold, no link', () => {
    expect(escapeCardMarkdown('*Boss* [click](https://evil.example)')).toBe('\\*Boss\\* \\[click\\](https://evil.example)');
  });

  test.each(HOSTILE)('%j leaves nothing a renderer would read as markup, and reads back as the text', (text) => {
    const escaped = escapeCardMarkdown(text);
    expect(liveMarkup(text).length).toBeGreaterThan(0);
    expect(liveMarkup(escaped)).toEqual([]);
    expect(plainFromCardMarkdown(escaped)).toBe(text.replace(/[\r\n\u2028]+/g, ' '));
  });

  test('random strings over the markup alphabet never come out live', () => {
    // A fixed-seed generator: the same cases on every run.
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = 'ab1 _*~`[]()<>\\-+#.!\n';
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 24) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      const escaped = escapeCardMarkdown(text);
      expect({ text, live: liveMarkup(escaped) }).toEqual({ text, live: [] });
      expect(plainFromCardMarkdown(escaped)).toBe(text.replace(/\n+/g, ' ').replace(/^ +/, ''));
    }
  });

  test('ordinary names, UPNs, URLs and codes are left exactly as they are', () => {
    for (const text of [
      'Megan Bowen',
      'megan.bowen@contoso.com',
      'first_last@contoso.com',
      'Contoso (EMEA) Ltd.',
      'Zoë Ørsted-Nakamura',
      'SECRET_ID_NOT_VALUE',
      'https://login.microsoftonline.com/contoso.com/adminconsent?client_id=66193c42',
      'Mail.ReadWrite, Calendars.ReadWrite',
    ]) {
      expect(escapeCardMarkdown(text)).toBe(text);
    }
  });
});

describe('cards built from people’s text', () => {
  const evil = '*Boss* [click](https://evil.example)';
  const upn = 'x_[click](https://evil.example)@contoso.com';
  const ctx = { tabUrl: TAB_URL, tenantName: evil, enabled: ['emailSync', 'calendarSync', 'calendarScheduling'] as const, portal: PORTAL };

  /** Every card the views build, with the hostile text in each field people control. */
  function hostileCards(): Array<[CardName, Record<string, unknown>]> {
    const failed = testResult('secret');
    failed.steps[1] = { ...failed.steps[1], message: `The test mailbox ${upn} was refused.`, remedy: `Ask ${evil} to fix it.` };
    failed.steps.push({ id: 'test-mailbox', status: 'warning', code: 'THROTTLED', message: `Throttled for ${upn}.` });
    const passed = testResult('passed');
    passed.steps = passed.steps.map((s) => (s.status === 'warning' ? { ...s, message: `${upn} was reachable.`, remedy: evil } : s));
    const permissions = testResult('permissions');
    permissions.features.emailSync.missing = ['[Mail.ReadWrite](https://evil.example)'];
    permissions.steps[2] = { ...permissions.steps[2], remedy: `Grant it, ${evil}.` };
    const now = new Date('2026-11-26T10:00:00Z');
    const deadlines = tenantDeadlines();
    const users = [connection(upn, 'ews-basic', 'connected', { displayName: evil }), connection(upn, 'ews-basic', 'connected')];
    const graphUser = connection(upn, 'graph-delegated', 'needs-reconnect', {
      displayName: evil,
      error: { code: 'REFRESH_TOKEN_REVOKED', message: `Revoked for ${upn}.`, remedy: `Call ${evil}.` },
    });
    return [
      ['TestFailed', buildCard('TestFailed', testFailedModel(failed, ctx))],
      ['TestPassed', buildCard('TestPassed', testPassedModel(passed, ctx))],
      ['PermissionsMissing', buildCard('PermissionsMissing', permissionsMissingModel(permissions, ctx))],
      [
        'DeadlineDigest',
        buildCard(
          'DeadlineDigest',
          deadlineDigestModel({ deadline: viewOf(deadlines[3], now), deadlines, now, counts: { 'ews-basic': 2 }, users, moreUsers: 0, tabUrl: TAB_URL }),
        ),
      ],
      ['ReconnectNudge', buildCard('ReconnectNudge', reconnectNudgeModel(users[0], now, TAB_URL))],
      ['ReconnectNudge', buildCard('ReconnectNudge', reconnectNudgeModel(graphUser, now, TAB_URL))],
      ['Help', buildCard('Help', helpModel({ isAdmin: true, welcome: false, tabUrl: TAB_URL, unknown: evil }))],
      ['Status', buildCard('Status', statusModel(summary(), now, TAB_URL, evil))],
      ['Error', buildCard('Error', secretExpiringModel({ expiresAt: '2026-12-01', daysLeft: 5, clientId: evil, tabUrl: TAB_URL }))],
    ];
  }

  test('every card shows the hostile text escaped, nowhere live, and still validates', () => {
    for (const [name, card] of hostileCards()) {
      const texts = [...cardTexts(card), String(card.fallbackText)];
      const joined = texts.join('\n');
      const escaped = ['\\*Boss\\*', '\\[click\\](https://evil.example)', '\\[Mail.ReadWrite\\]'].some((e) => joined.includes(e));
      expect({ name, escaped }).toEqual({ name, escaped: true });
      for (const t of texts) {
        expect({ name, t, live: /(^|[^\\])\[(click|Mail\.ReadWrite)\]\(/.test(t) || /(^|[^\\])\*Boss/.test(t) }).toEqual({ name, t, live: false });
      }
      expect({ name, problems: cardProblems(card) }).toEqual({ name, problems: [] });
    }
  });

  test('read back, the escaped text is what the views were given: only the markup is neutralised', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const deadlines = tenantDeadlines();
    const users = [connection(upn, 'ews-basic', 'connected', { displayName: evil })];
    const model = deadlineDigestModel({
      deadline: viewOf(deadlines[3], now),
      deadlines,
      now,
      counts: { 'ews-basic': 1 },
      users,
      moreUsers: 0,
      tabUrl: TAB_URL,
    });
    const line = cardTexts(buildCard('DeadlineDigest', model)).find((t) => t.includes('Boss'))!;
    expect(plainFromCardMarkdown(line)).toBe(`${evil} — Exchange (EWS, Basic Auth), connected`);
  });

  test('a notification summary is plain text, without the escapes', () => {
    const nudge = reconnectNudgeModel(connection(upn, 'ews-basic', 'connected', { displayName: '*Boss* Smith' }), new Date('2026-11-26T10:00:00Z'), TAB_URL);
    expect(nudge.title).toBe('\\*Boss\\*, please reconnect your mailbox');
    expect(activityFromPayload(cardPayload('ReconnectNudge', nudge)).summary).toBe('*Boss*, please reconnect your mailbox');
  });

  test('escaping never breaks the size limit: 5,000 hostile names are still cut to fit', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const deadlines = tenantDeadlines();
    const users = legacyUsers(5000).map((u) => ({ ...u, displayName: `*${u.displayName}* [${'x'.repeat(40)}](https://evil.example)` }));
    const card = buildCard(
      'DeadlineDigest',
      deadlineDigestModel({ deadline: viewOf(deadlines[3], now), deadlines, now, counts: { 'ews-basic': 5000 }, users, moreUsers: 0, tabUrl: TAB_URL }),
    );
    expect(cardBytes(card)).toBeLessThanOrEqual(MAX_CARD_BYTES);
    expect(cardTexts(card).some((t) => /^and \d+ more$/.test(t))).toBe(true);
    expect(cardProblems(card)).toEqual([]);
  });

  test('clipping a long escaped text never leaves half an escape before the ellipsis', () => {
    // Both parities: the cut falls on a backslash in one, on an escaped star in the other.
    for (const prefix of ['', 'a']) {
      const card = buildCard('Error', errorModel({ title: 'x', message: prefix + escapeCardMarkdown('*'.repeat(1000)), tabUrl: TAB_URL }));
      const message = cardTexts(card).find((t) => t.includes('\\*'))!;
      expect(message.endsWith('…')).toBe(true);
      expect(message.length).toBeLessThanOrEqual(1000);
      expect(liveMarkup(message.slice(0, -1))).toEqual([]);
    }
  });
});
