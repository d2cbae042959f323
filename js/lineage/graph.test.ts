import { describe, expect, it } from "vitest";
import { fitTransform, shorten } from "./canvas";
import {
  type LineageGraph,
  type LineageNode,
  buildView,
  clusterKey,
  clusters,
  formatSize,
  hiddenCounts,
  mergeGraph,
} from "./graph";
import { boundsOf, layout } from "./layout";
import { matchNodes } from "./search";

function art(id: string, name: string, version: string, extra: Partial<LineageNode> = {}): LineageNode {
  return { id, kind: "artifact", name, label: `${name}:${version}`, version, type: "dataset", depth: 1,
    entity: "e", project: "p", size: 2048, aliases: [], degree: null, ...extra };
}
function run(id: string, name: string, type = "train", extra: Partial<LineageNode> = {}): LineageNode {
  return { id, kind: "run", name, label: name, type, state: "finished", depth: 1, entity: "e", project: "p",
    degree: null, ...extra };
}

/** ds:v0 -> train -> model:v0 -> eval, plus `n` fine-tune runs each logging ft:vI. */
function fanout(n: number): LineageGraph {
  const nodes = [art("ds", "ds", "v0", { degree: 2 + n, aliases: ["best"] }), run("train", "trainer"),
    art("m", "model", "v0", { type: "model" }), run("eval", "evaluator", "eval")];
  const edges: LineageGraph["edges"] = [
    { source: "ds", target: "train", kind: "input" },
    { source: "train", target: "m", kind: "output" },
    { source: "m", target: "eval", kind: "input" },
  ];
  for (let i = 0; i < n; i++) {
    nodes.push(run(`r${i}`, `ft-${i}`, "finetune"), art(`f${i}`, "ft", `v${i}`, { type: "model" }));
    edges.push({ source: "ds", target: `r${i}`, kind: "input" }, { source: `r${i}`, target: `f${i}`, kind: "output" });
  }
  return { root: "ds", nodes, edges };
}

describe("graph model", () => {
  it("clusters versions of one collection and runs of one job type, never the root", () => {
    const g = fanout(6);
    const groups = clusters(g);
    expect([...groups.keys()].sort()).toEqual(["cluster:a:e/p/ft", "cluster:r:e/p/finetune"]);
    expect(groups.get("cluster:a:e/p/ft")).toHaveLength(6);
    const view = buildView(g, new Set());
    expect(view.nodes.map((n) => n.label).sort()).toEqual(
      ["ds:v0", "evaluator", "finetune ×6", "ft ×6", "model:v0", "trainer"].sort(),
    );
    // Six ds -> ft-i edges become one edge into the run cluster, carrying the count.
    const into = view.edges.find((e) => e.target === "cluster:r:e/p/finetune");
    expect(into).toMatchObject({ source: "ds", count: 6, kind: "input" });
    expect(view.drawnAs.get("f3")).toBe("cluster:a:e/p/ft");
    expect(view.nodes.find((n) => n.id === "ds")?.root).toBe(true);
  });

  it("draws members one by one once their cluster is expanded, and small groups always", () => {
    const g = fanout(6);
    const view = buildView(g, new Set(["cluster:a:e/p/ft"]));
    expect(view.nodes.filter((n) => n.kind === "artifact" && n.label.startsWith("ft:"))).toHaveLength(6);
    expect(view.nodes.some((n) => n.id === "cluster:r:e/p/finetune")).toBe(true);
    expect(view.edges.filter((e) => e.source === "cluster:r:e/p/finetune")).toHaveLength(6);
    expect(clusters(fanout(3)).size).toBe(0);
  });

  it("counts neighbours the server knows of but the graph lacks", () => {
    const g = fanout(2);
    g.nodes[0] = { ...g.nodes[0], degree: 9 } as LineageNode;
    expect(hiddenCounts(g).get("ds")).toBe(9 - 3);
    expect(hiddenCounts(g).has("train")).toBe(false); // unknown degree: nothing claimed
    expect(buildView(g, new Set()).nodes.find((n) => n.id === "ds")?.hidden).toBe(6);
  });

  it("merges a neighbour fetch without duplicating nodes or edges", () => {
    const g = fanout(1);
    const extra = {
      nodes: [art("ds", "ds", "v0", { depth: 0 }), run("maker", "make-data", "data", { depth: 5 })],
      edges: [{ source: "maker", target: "ds", kind: "output" as const }, { source: "ds", target: "train", kind: "input" as const }],
    };
    const merged = mergeGraph(g, extra);
    expect(merged.nodes).toHaveLength(g.nodes.length + 1);
    expect(merged.edges).toHaveLength(g.edges.length + 1);
    expect(merged.nodes.find((n) => n.id === "ds")?.depth).toBe(0);
    expect(merged.root).toBe("ds");
  });

  it("keys clusters by project and name, and formats sizes", () => {
    expect(clusterKey(art("a", "ds", "v1"))).toBe("cluster:a:e/p/ds");
    expect(clusterKey(run("r", "x", "eval"))).toBe("cluster:r:e/p/eval");
    expect([0, 999, 1000, 2048, 15_300_000, 3e12].map(formatSize)).toEqual(
      ["0 B", "999 B", "1.0 KB", "2.0 KB", "15 MB", "3.0 TB"],
    );
  });
});

describe("layout", () => {
  it("places the graph left to right along the arrows, no two boxes overlapping", () => {
    const view = buildView(fanout(6), new Set());
    const placed = layout(view);
    const x = (id: string): number => placed.nodes.get(id)?.x ?? Number.NaN;
    expect(x("ds")).toBeLessThan(x("train"));
    expect(x("train")).toBeLessThan(x("m"));
    expect(x("m")).toBeLessThan(x("eval"));
    expect(x("ds")).toBeLessThan(x("cluster:r:e/p/finetune"));
    const boxes = [...placed.nodes.values()];
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart).toBe(true);
      }
    }
    expect(placed.edges.size).toBe(view.edges.length);
    expect(placed.width).toBeGreaterThan(0);
  });

  it("lays out a thousand nodes (the longest-path ranker past 120)", () => {
    const view = buildView(fanout(500), new Set(["cluster:a:e/p/ft", "cluster:r:e/p/finetune"]));
    expect(view.nodes.length).toBe(1004);
    const placed = layout(view);
    expect(placed.nodes.size).toBe(1004);
  });

  it("bounds and fits boxes", () => {
    const box = boundsOf([{ x: 10, y: 10, width: 10, height: 10 }, { x: 50, y: 0, width: 10, height: 5 }]);
    expect(box).toEqual({ x: 10, y: 0, width: 50, height: 20 });
    expect(boundsOf([])).toBeUndefined();
    // A small graph keeps its size and is centred.
    expect(fitTransform({ x: 0, y: 0, width: 100, height: 50 }, 400, 200)).toEqual({ k: 1, x: 150, y: 75 });
    // A wide one is scaled down to fit.
    const t = fitTransform({ x: 0, y: 0, width: 2000, height: 100 }, 400, 200, 0);
    expect(t.k).toBeCloseTo(0.2);
  });
});

describe("search", () => {
  it("matches every word in the label, type or aliases, case-insensitively", () => {
    const g = fanout(6);
    expect(matchNodes(g, "FT-3")).toEqual(["r3"]);
    expect(matchNodes(g, "ft v3")).toEqual(["f3"]);
    expect(matchNodes(g, "best")).toEqual(["ds"]);
    expect(matchNodes(g, "model").sort()).toEqual(["f0", "f1", "f2", "f3", "f4", "f5", "m"]);
    expect(matchNodes(g, "   ")).toEqual([]);
    expect(matchNodes(g, "nothing-like-it")).toEqual([]);
  });

  it("shortens long labels for the boxes", () => {
    expect(shorten("short")).toBe("short");
    expect(shorten("a".repeat(40), 10)).toBe(`${"a".repeat(9)}…`);
  });
});
