/** Typed commands and command-menu entries → a command name. */
import type { CommandName } from './cards';

export type ParsedCommand = { name: CommandName } | { name: 'unknown'; text: string };

/** Commands that need the admin role; everyone may ask for help. */
export const ADMIN_COMMANDS: readonly CommandName[] = ['status', 'test', 'remind', 'subscribe here', 'unsubscribe'];

const ALIASES: Record<string, CommandName> = {
  help: 'help',
  '?': 'help',
  hi: 'help',
  hello: 'help',
  start: 'help',
  status: 'status',
  summary: 'status',
  test: 'test',
  'run test': 'test',
  'test again': 'test',
  'run test again': 'test',
  remind: 'remind',
  'remind them': 'remind',
  subscribe: 'subscribe here',
  'subscribe here': 'subscribe here',
  unsubscribe: 'unsubscribe',
  'unsubscribe here': 'unsubscribe',
};

/**
 * Normalises what the user typed: the bot's @mention (already removed by the caller where the
 * activity says so) and any leftover <at> tags, HTML, case, spacing and trailing punctuation.
 */
export function normaliseText(text: string): string {
  const plain = text
    .replace(/<at>[^<]*<\/at>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\/+/, '')
    .toLowerCase();
  return plain === '?' ? plain : plain.replace(/[.!?]+$/, '').trim();
}

export function parseCommand(text: string | undefined): ParsedCommand {
  const normal = normaliseText(text ?? '');
  const name = ALIASES[normal];
  return name ? { name } : { name: 'unknown', text: normal.slice(0, 80) };
}

/** Action.Submit fallbacks (older clients) and invoke verbs map onto the same commands. */
export const VERBS: Record<string, CommandName> = { runTest: 'test', remind: 'remind' };
