/**
 * Teams renders a markdown subset in TextBlocks and facts (bold, italic, lists, links), so text that
 * people control — display names, UPNs, domains, tenant names, what someone typed, server messages
 * that quote them — is escaped here before it goes into a card model. "*Boss* [click](https://x)"
 * then shows as typed instead of as bold text and a link.
 */

/** Always significant: emphasis, links, code, strikethrough, autolinks and `<at>` tags. */
const INLINE = /[\\`*~[\]<>]|_/g;
const WORD = /[\p{L}\p{N}]/u;

/**
 * Backslash escapes (CommonMark, which Teams' renderers follow). Line breaks become spaces, so a
 * name cannot start a list or a paragraph of its own. An underscore inside a word (first_last) is
 * left alone: it can neither open nor close emphasis there, and URLs keep their `client_id`.
 */
export function escapeCardMarkdown(text: string): string {
  const flat = text.replace(/[\r\n\t\v\f\u2028\u2029]+/g, ' ').replace(/^ +/, '');
  const inline = flat.replace(INLINE, (ch: string, at: number, all: string) =>
    ch === '_' && WORD.test(all[at - 1] ?? '') && WORD.test(all[at + 1] ?? '') ? ch : `\\${ch}`,
  );
  // A fragment may begin a TextBlock: no "- ", "+ ", "# " or "1. " block marker at its start.
  return inline.replace(/^([-+#])/, '\\$1').replace(/^(\d+)([.)])/, '$1\\$2');
}

/** The text again, for places that show plain text (the activity summary in notifications). */
export function plainFromCardMarkdown(text: string): string {
  return text.replace(/\\([\\`*_~[\]<>\-+#.)])/g, '$1');
}
