import { open } from "node:fs/promises";

/**
 * The last `maxLines` non-empty lines of a text file, at most `maxChars`
 * characters (reads only the file's end); "" when the file cannot be read.
 */
export async function readTail(file: string, maxLines: number, maxChars: number): Promise<string> {
  let text: string;
  try {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, maxChars * 4);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      text = buffer.toString("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return "";
  }
  const lines = text.split("\n").filter((line) => line.length > 0);
  return lines.slice(-maxLines).join("\n").slice(-maxChars);
}
