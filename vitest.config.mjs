// Unit tests for the widgets' front end: pure modules (query syntax, RPC channel, formatting).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["js/**/*.test.ts"],
    environment: "node",
  },
});
