// Generated blocks in Markdown: the text between <!-- name:begin --> and <!-- name:end --> belongs to the script
// that writes it; everything around it is written by hand.

/** `markdown` with the block `name` holding `body` (markers kept); throws when the markers are missing. */
export function replaceBlock(markdown: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = markdown.indexOf(begin);
  const b = markdown.indexOf(end);
  if (a < 0 || b < a) throw new Error(`no ${begin} ... ${end} block`);
  return `${markdown.slice(0, a)}${begin}\n${body}${markdown.slice(b)}`;
}
