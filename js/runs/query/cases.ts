// The search-syntax cases both parsers are checked against (the same file drives
// tests/widgets/runs/query/, so the Python and TypeScript sides agree).
import rawCases from "../../../tests/widgets/runs/query/cases.json";
import type { Filter, KeyContext } from "./fields";

export interface Cases {
  keys: KeyContext;
  parse: { text: string; filter: Filter }[];
  errors: { text: string; message: string; start: number }[];
  format: { filter: Filter; text: string }[];
}

export const cases = rawCases as unknown as Cases;
