import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { dataFolderIgnores } from "./scripts/data-folders.mjs";

export default tseslint.config(
  // `.strata*/`: the default and the demo's data folders; any other data folder is found by its tokens.
  {
    ignores: [
      "node_modules/",
      "dist/",
      "**/.strata*/",
      "docs/",
      ...dataFolderIgnores(import.meta.dirname),
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        URL: "readonly",
        Buffer: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        fetch: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
);
