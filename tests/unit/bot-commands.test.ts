import { normaliseText, parseCommand, ADMIN_COMMANDS, VERBS } from '../../bot/commands';
import { COMMANDS } from '../../bot/cards';

describe('parseCommand', () => {
  test.each([
    ['status', 'status'],
    ['  Status. ', 'status'],
    ['<at>Connection Center</at> test', 'test'],
    ['/help', 'help'],
    ['?', 'help'],
    ['Remind them!', 'remind'],
    ['subscribe here', 'subscribe here'],
    ['Subscribe', 'subscribe here'],
    ['<p>unsubscribe</p>', 'unsubscribe'],
    ['run   test   again', 'test'],
  ])('%j → %s', (text, name) => {
    expect(parseCommand(text)).toEqual({ name });
  });

  test('anything else is unknown, with the text kept short for the help card', () => {
    expect(parseCommand('please delete everything')).toEqual({ name: 'unknown', text: 'please delete everything' });
    expect(parseCommand(undefined)).toEqual({ name: 'unknown', text: '' });
    expect((parseCommand('x'.repeat(500)) as { text: string }).text).toHaveLength(80);
  });

  test('HTML entities and mentions are stripped', () => {
    expect(normaliseText('<at>Bot</at>&nbsp;Status')).toBe('status');
  });

  test('every command the help card lists parses to itself; all but help need the admin role', () => {
    for (const name of Object.keys(COMMANDS)) expect(parseCommand(name)).toEqual({ name });
    expect([...ADMIN_COMMANDS].sort()).toEqual(
      Object.keys(COMMANDS)
        .filter((c) => c !== 'help')
        .sort(),
    );
    expect(VERBS).toEqual({ runTest: 'test', remind: 'remind' });
  });
});
