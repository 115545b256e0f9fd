/** YAML written with npm's `yaml`: a value, a header comment, and a comment before any key (the task property it came from). */
import { Document, isMap, isScalar } from 'yaml';

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlComment {
  /** The key the comment goes above. */
  at: YamlPath;
  text: string;
}

/** The YAML text of `value`, with `header` above it and each comment above its key. */
export function yamlText(value: unknown, header: readonly string[], comments: readonly YamlComment[] = []): string {
  // YAML 1.1's rules: strings such as "no" and "on" are quoted, so that readers of either version (Compose,
  // kubectl) read them as strings; no anchors: a value written twice is written out twice, as a person would.
  const doc = new Document(value, { version: '1.1', aliasDuplicateObjects: false });
  if (header.length > 0) doc.commentBefore = header.map((line) => (line === '' ? '' : ` ${line}`)).join('\n');
  for (const comment of comments) {
    const parent = doc.getIn(comment.at.slice(0, -1), true);
    const key = comment.at[comment.at.length - 1];
    if (!isMap(parent)) throw new Error(`yamlText: no map at ${comment.at.slice(0, -1).join('.')}`);
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === key);
    if (!pair || !isScalar(pair.key)) throw new Error(`yamlText: no key ${comment.at.join('.')}`);
    pair.key.commentBefore = comment.text.split('\n').map((line) => ` ${line}`).join('\n');
  }
  return doc.toString({ lineWidth: 0 });
}
