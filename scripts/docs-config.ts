// Writes docs/config.md from the config schemas: npm run docs:config
import { writeFile } from "node:fs/promises";
import { formattedConfigReference } from "../src/config/reference.js";

await writeFile("docs/config.md", await formattedConfigReference());
console.log("wrote docs/config.md");
