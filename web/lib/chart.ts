const SVG = 'http://www.w3.org/2000/svg';

function svgElement(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * Draw a horizontal bar chart in SVG, with a title for screen readers and the
 * values written next to the bars, so nothing depends on colour or hover.
 */
export function barChart(title: string, rows: { label: string; value: number }[]): SVGElement {
  const rowHeight = 22;
  const labelWidth = 150;
  const width = 560;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const svg = svgElement('svg', { class: 'chart', role: 'img', viewBox: `0 0 ${width} ${rows.length * rowHeight + 8}`, width, height: rows.length * rowHeight + 8 });
  svg.appendChild(svgElement('title', {}, title));
  rows.forEach((row, i) => {
    const y = i * rowHeight + 4;
    const barWidth = Math.round(((width - labelWidth - 60) * row.value) / max);
    svg.appendChild(svgElement('text', { x: 0, y: y + 14 }, row.label.length > 20 ? `${row.label.slice(0, 19)}…` : row.label));
    svg.appendChild(svgElement('rect', { class: 'bar', x: labelWidth, y: y + 3, width: barWidth, height: rowHeight - 8 }));
    svg.appendChild(svgElement('text', { x: labelWidth + barWidth + 6, y: y + 14 }, String(row.value)));
  });
  return svg;
}
