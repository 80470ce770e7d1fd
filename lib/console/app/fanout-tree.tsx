import { useMemo } from 'preact/hooks';
import type { TreeNode } from './api';

const COLUMN = 240;
const ROW = 34;
const BOX_W = 196;
const BOX_H = 26;
const PAD = 12;
/** More nodes than this are listed in the table only: an SVG that large helps nobody. */
export const MAX_DRAWN_NODES = 600;

interface Placed {
  readonly node: TreeNode;
  readonly x: number;
  readonly y: number;
}

/** Lays one partition's tree out in columns by depth; a parent sits at the middle of its children. */
function layout(nodes: readonly TreeNode[]): { placed: Placed[]; width: number; height: number } {
  const children = new Map<string, TreeNode[]>();
  const ids = new Set(nodes.map((node) => node.id));
  const roots: TreeNode[] = [];
  for (const node of nodes) {
    if (node.parent !== undefined && ids.has(node.parent)) {
      const list = children.get(node.parent);
      if (list) list.push(node);
      else children.set(node.parent, [node]);
    } else {
      roots.push(node);
    }
  }
  const placed: Placed[] = [];
  let row = 0;
  let maxDepth = 0;
  const place = (node: TreeNode): number => {
    maxDepth = Math.max(maxDepth, node.depth);
    const kids = children.get(node.id) ?? [];
    // Intermediaries first, so the branches that feed others are drawn together.
    kids.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'intermediary' ? -1 : 1));
    let y: number;
    if (kids.length === 0) {
      y = PAD + row * ROW;
      row++;
    } else {
      const ys = kids.map(place);
      y = ((ys[0] ?? 0) + (ys[ys.length - 1] ?? 0)) / 2;
    }
    placed.push({ node, x: PAD + node.depth * COLUMN, y });
    return y;
  };
  roots.forEach(place);
  return { placed, width: PAD * 2 + maxDepth * COLUMN + BOX_W, height: PAD * 2 + Math.max(1, row) * ROW };
}

function label(node: TreeNode): string {
  if (node.kind === 'snapshot') return 'snapshot';
  if (node.kind === 'intermediary') return `intermediary ${node.id.replace(/^p\d+-/, '')}`;
  // A swarm plan copies one chunk per node: say which.
  const chunk = /-c(\d+)$/.exec(node.id)?.[1];
  return `${node.volumeId ?? node.id}${chunk === undefined ? '' : ` chunk ${chunk}`}`;
}

function done(node: TreeNode): string {
  return node.chunksDone === null ? `?/${node.chunks}` : `${node.chunksDone}/${node.chunks}`;
}

/**
 * One partition's fan-out tree: the snapshot, the intermediaries it feeds, the targets; each
 * box shows its sled and the chunks it holds so far, and fills as they arrive.
 */
export function FanoutTree({ nodes, partition }: { nodes: readonly TreeNode[]; partition: number }) {
  const { placed, width, height } = useMemo(() => layout(nodes), [nodes]);
  const at = new Map(placed.map((p) => [p.node.id, p]));
  const levels = Math.max(0, ...nodes.map((node) => node.depth));
  // The copies being made; the snapshot's own chunks are the source, not progress.
  const copies = nodes.filter((node) => node.kind !== 'snapshot');
  const chunksDone = copies.reduce((sum, node) => sum + (node.chunksDone ?? 0), 0);
  const chunks = copies.reduce((sum, node) => sum + node.chunks, 0);
  const summary = `Partition ${partition}: ${nodes.length} nodes on ${levels + 1} levels; ${chunksDone} of ${chunks} chunks copied.`;
  if (nodes.length > MAX_DRAWN_NODES) return <p class="muted">{summary} Too many nodes to draw; see the table below.</p>;
  return (
    <figure class="tree-figure">
      <div class="tree-scroll">
        <svg
          class="fanout-tree"
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby="tree-title tree-desc"
          data-nodes={nodes.length}
          data-chunks-done={chunksDone}
        >
          <title id="tree-title">Fan-out tree of partition {partition}</title>
          <desc id="tree-desc">{summary}</desc>
          {Array.from({ length: levels + 1 }, (_, depth) => (
            <text key={`level-${depth}`} class="level-label" x={PAD + depth * COLUMN} y={PAD - 2}>
              {depth === 0 ? 'source' : `level ${depth}`}
            </text>
          ))}
          {placed.map(({ node, x, y }) => {
            const parent = node.parent ? at.get(node.parent) : undefined;
            if (!parent) return null;
            const x1 = parent.x + BOX_W;
            const y1 = parent.y + BOX_H / 2 + 6;
            const y2 = y + BOX_H / 2 + 6;
            const mid = (x1 + x) / 2;
            return <path key={`edge-${node.id}`} class="edge" d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x},${y2}`} />;
          })}
          {placed.map(({ node, x, y }) => {
            const fraction = node.chunks === 0 ? 1 : (node.chunksDone ?? 0) / node.chunks;
            return (
              <g
                key={node.id}
                class={`node node-${node.kind}`}
                transform={`translate(${x},${y + 6})`}
                data-node-id={node.id}
                data-chunks-done={node.chunksDone ?? ''}
                data-chunks={node.chunks}
              >
                <title>{`${node.kind} ${node.id}${node.volumeId ? ` → ${node.volumeId}` : ''}, sled ${node.sled}, ${done(node)} chunks`}</title>
                <rect class="box" width={BOX_W} height={BOX_H} rx="4" />
                <rect class="fill" width={Math.round(BOX_W * Math.min(1, fraction))} height="4" y={BOX_H - 4} />
                <text x="6" y="12" class="node-name">
                  {label(node)}
                </text>
                <text x="6" y="21" class="node-chunks">
                  sled {node.sled} · {done(node)} chunks
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption>
        {summary} <span class="legend legend-snapshot">snapshot</span> <span class="legend legend-intermediary">intermediary</span>{' '}
        <span class="legend legend-target">target</span>
      </figcaption>
    </figure>
  );
}
