/* Convolution explorer: small integer inputs (one slice per input channel), the kernel of each
   filter (one slice per input channel, and a bias), a window stepping over the zero-padded input,
   each step's products and their sum, and the C_out output maps filling in; below, the output
   size from the formula and the parameter counts of the layer against a fully connected layer.
   Plain JS + SVG. Conventions as in the book and PyTorch: NCHW, cross-correlation (no flip),
   P is zero padding per side, H_out = floor((n + 2P - K) / S) + 1.
   The values are in the root's data attributes as JSON (data-input: C_in x n x n,
   data-weight: C_out x C_in x K x K, data-bias: C_out, data-output: C_out x H_out x W_out),
   so that a test can compare them with torch.nn.functional.conv2d. */
(function () {
  "use strict";

  /** Output size along one axis, or null when the kernel does not fit the padded input. */
  function outputSize(n, k, s, p) {
    if (!(n >= 1 && k >= 1 && s >= 1 && p >= 0)) return null;
    if (k > n + 2 * p) return null;
    return Math.floor((n + 2 * p - k) / s) + 1;
  }

  /** Parameters of the conv layer and of a dense layer mapping the same input to the same output. */
  function paramCounts(cIn, cOut, k, n, s, p) {
    const out = outputSize(n, k, s, p);
    if (out === null) return null;
    const inputs = cIn * n * n;
    const outputs = cOut * out * out;
    return {
      conv: cOut * cIn * k * k + cOut,
      convWeights: cOut * cIn * k * k,
      dense: inputs * outputs + outputs,
      denseWeights: inputs * outputs,
      outputs: outputs,
    };
  }

  /** Why a setting is invalid or rounded, in words; "" when it is fine. */
  function explain(n, k, s, p) {
    if (k > n + 2 * p) {
      return `The ${k}×${k} kernel is larger than the padded input (${n} + 2·${p} = ${n + 2 * p}): ` +
        "there is no position where it fits. Use a smaller kernel or more padding.";
    }
    const rest = (n + 2 * p - k) % s;
    if (rest !== 0) {
      return `With stride ${s} the windows do not reach the end: (n + 2P − K) = ${n + 2 * p - k} is not ` +
        `a multiple of S = ${s}, so the last ${rest} row(s) and column(s) of the padded input are never ` +
        "covered. The formula rounds down (⌊·⌋) and those pixels are ignored.";
    }
    return "";
  }

  /** A seeded generator (mulberry32): the same settings and seed give the same values. */
  function generator(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const table = (shape, fill) => shape.length === 0 ? fill() :
    Array.from({ length: shape[0] }, () => table(shape.slice(1), fill));

  /** Input (C_in, n, n) with values 0..3, weight (C_out, C_in, K, K) with -1..2, bias (C_out,) with -1..1. */
  function values(cin, cout, n, k, seed) {
    const next = generator(seed);
    const integer = (low, high) => () => low + Math.floor(next() * (high - low + 1));
    return {
      input: table([cin, n, n], integer(0, 3)),
      weight: table([cout, cin, k, k], integer(-1, 2)),
      bias: table([cout], integer(-1, 1)),
    };
  }

  /** The products x * w of output y[o, i, j], per input channel: [[[x, w], ...], ...] (padding gives x = 0). */
  function products(input, weight, o, i, j, s, p) {
    const n = input[0].length, k = weight[0][0].length;
    return input.map((slice, c) => {
      const terms = [];
      for (let u = 0; u < k; u++) {
        for (let v = 0; v < k; v++) {
          const r = i * s + u - p, q = j * s + v - p;
          const x = r >= 0 && r < n && q >= 0 && q < n ? slice[r][q] : 0;
          terms.push([x, weight[o][c][u][v]]);
        }
      }
      return terms;
    });
  }

  /** conv2d as in PyTorch, for one image: input (C_in, n, n), weight (C_out, C_in, K, K), bias (C_out,)
      -> output (C_out, H_out, W_out). */
  function conv2d(input, weight, bias, s, p) {
    const out = outputSize(input[0].length, weight[0][0].length, s, p);
    return weight.map((_, o) => table([out], () => 0).map((_, i) => table([out], () => 0).map((_, j) =>
      products(input, weight, o, i, j, s, p).flat().reduce((sum, [x, w]) => sum + x * w, bias[o]))));
  }

  const fmt = (x) => x.toLocaleString("en-US");
  const num = (x) => (x < 0 ? "−" + -x : String(x));
  const paren = (x) => (x < 0 ? `(${num(x)})` : num(x));
  const FIELDS = [
    ["n", "Input size n (H = W)", 5, 1, 12],
    ["k", "Kernel size K", 3, 1, 7],
    ["s", "Stride S", 1, 1, 5],
    ["p", "Padding P (per side)", 1, 0, 3],
    ["cin", "Input channels C_in", 2, 1, 4],
    ["cout", "Filters C_out", 2, 1, 6],
  ];
  const SVG = "http://www.w3.org/2000/svg";

  function element(tag, attributes, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, className, parent, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /** A panel with a caption and a rows x cols SVG grid of numbered cells: {panel, svg, cells[r][c] = {rect, text}, size}. */
  function grid(parent, caption, rows, cols, widest) {
    const panel = html("div", "cx-panel", parent);
    html("p", "cx-caption", panel, caption);
    const size = Math.max(24, 8 * widest + 10);
    const width = cols * size + 4, height = rows * size + 4;
    const svg = element("svg", { class: "cx-grid", role: "img", viewBox: `-2 -2 ${width} ${height}`,
      width, height }, panel);
    const cells = table([rows], () => null).map((_, r) => table([cols], () => null).map((_, c) => {
      const rect = element("rect", { x: c * size, y: r * size, width: size - 2, height: size - 2 }, svg);
      const text = element("text", { x: c * size + (size - 2) / 2, y: r * size + (size - 2) / 2, class: "cx-num",
        "text-anchor": "middle", "dominant-baseline": "central" }, svg);
      return { rect, text };
    }));
    return { panel, svg, cells, size };
  }

  const rowsText = (rows) => rows.map((row) => row.map(num).join(" ")).join("; ");

  function build(root) {
    root.innerHTML = "";
    if (!root.getAttribute("role")) root.setAttribute("role", "group");
    const form = html("form", "cx-controls", root);
    form.addEventListener("submit", (event) => event.preventDefault());
    const inputs = {};
    for (const [name, label, value, min, max] of FIELDS) {
      const wrapper = html("label", "", form, label + " ");
      const input = document.createElement("input");
      Object.assign(input, { type: "number", value, min, max, step: 1, name });
      input.setAttribute("data-field", name);
      wrapper.appendChild(input);
      inputs[name] = input;
    }
    const buttons = html("div", "cx-buttons", root);
    const make = (text, action, label) => {
      const button = html("button", "", buttons, text);
      button.type = "button";
      button.setAttribute("data-action", action);
      if (label) button.setAttribute("aria-label", label);
      return button;
    };
    const play = make("▶ Play", "play");
    const step = make("Step ›", "step");
    const reset = make("↺ Reset", "reset");
    const shuffle = make("New values", "shuffle");
    const message = html("p", "cx-message", root);
    message.setAttribute("role", "status");
    message.setAttribute("aria-live", "polite");
    const size = html("p", "cx-size", root);
    const stage = html("div", "cx-stage", root);
    const sum = html("div", "cx-sum", root);
    sum.setAttribute("aria-live", "polite");
    const legend = html("p", "cx-legend", root,
      "Dashed grey cells are zero padding (value 0). The thick outline on each input slice is the " +
      "window the kernel covers now; in the output, the outlined cell is the one being computed, " +
      "filled cells hold values already computed and empty cells are still to come.");
    const counts = html("table", "cx-counts", root);

    let position = 0, seed = 1, timer = null, state = null;
    const read = () => Object.fromEntries(
      Object.entries(inputs).map(([k, input]) => [k, Number(input.value)]));

    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      play.textContent = "▶ Play";
      sum.setAttribute("aria-live", "polite");
    }

    function invalid(note, sizeText) {
      message.textContent = note;
      message.classList.add("cx-invalid");
      size.textContent = sizeText;
      stage.innerHTML = sum.innerHTML = counts.innerHTML = "";
      legend.hidden = true;
      for (const key of ["outputSize", "input", "weight", "bias", "output", "step"]) root.dataset[key] = "";
      [play, step, shuffle].forEach((b) => (b.disabled = true));
      state = null;
      stop();
    }

    /** Settings changed (or new values): check them, compute, lay out the grids. */
    function layout() {
      const { n, k, s, p, cin, cout } = read();
      const whole = [n, k, s, p, cin, cout].every(Number.isInteger);
      if (!whole || [n, k, s, cin, cout].some((v) => v < 1) || p < 0) {
        return invalid("Every value must be a whole number: sizes, stride and channels at least 1, " +
          "padding at least 0.", "");
      }
      const out = outputSize(n, k, s, p);
      if (out === null) {
        return invalid(explain(n, k, s, p),
          `H_out = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1: undefined, the kernel does not fit.`);
      }
      const over = FIELDS.filter(([name, , , , max]) => read()[name] > max);
      if (over.length) {
        return invalid("The explorer draws every value, so it keeps the numbers small: " +
          over.map(([, label, , , max]) => `${label} at most ${max}`).join(", ") + ".", "");
      }
      message.textContent = explain(n, k, s, p);
      message.classList.remove("cx-invalid");
      [play, step, shuffle].forEach((b) => (b.disabled = false));
      legend.hidden = false;
      const { input, weight, bias } = values(cin, cout, n, k, seed);
      const output = conv2d(input, weight, bias, s, p);
      Object.assign(root.dataset, { outputSize: String(out), input: JSON.stringify(input),
        weight: JSON.stringify(weight), bias: JSON.stringify(bias), output: JSON.stringify(output),
        seed: String(seed) });
      size.textContent = `H_out = W_out = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1 = ${out}` +
        `, so the layer outputs ${cout} × ${out} × ${out}.`;
      const c = paramCounts(cin, cout, k, n, s, p);
      counts.innerHTML =
        "<caption>Parameters for a " + `${cin}×${n}×${n} input and a ${cout}×${out}×${out} output</caption>` +
        "<tr><th>Layer</th><th>Weights</th><th>Biases</th><th>Total</th></tr>" +
        `<tr><td>Convolutional: C_out·C_in·K·K + C_out</td><td>${fmt(c.convWeights)}</td><td>${fmt(cout)}</td><td data-count="conv">${fmt(c.conv)}</td></tr>` +
        `<tr><td>Fully connected: (inputs)·(outputs) + outputs</td><td>${fmt(c.denseWeights)}</td><td>${fmt(c.outputs)}</td><td data-count="dense">${fmt(c.dense)}</td></tr>`;

      stage.innerHTML = "";
      const group = (title) => {
        const box = html("div", "cx-group", stage);
        html("p", "cx-group-title", box, title);
        return html("div", "cx-panels", box);
      };
      const padded = n + 2 * p;
      const inputBox = group(`Input x: ${cin} channel${cin > 1 ? "s" : ""} (C_in), each ${n}×${n}, ` +
        `zero-padded to ${padded}×${padded}`);
      const slices = input.map((slice, ch) => {
        const g = grid(inputBox, `x[${ch}], channel ${ch}`, padded, padded, 1);
        g.panel.dataset.channel = String(ch);
        g.svg.setAttribute("aria-label", `Input channel ${ch}, ${n}×${n} with ${p} cell(s) of zero ` +
          `padding on each side. Rows: ${rowsText(slice)}.`);
        g.cells.forEach((row, r) => row.forEach((cell, q) => {
          const inside = r >= p && q >= p && r < p + n && q < p + n;
          cell.rect.setAttribute("class", inside ? "cx-in" : "cx-pad");
          cell.text.textContent = inside ? num(slice[r - p][q - p]) : "0";
          if (!inside) cell.text.classList.add("cx-pad-num");
        }));
        g.window = element("rect", { class: "cx-window", width: k * g.size, height: k * g.size }, g.svg);
        return g;
      });
      const kernelBox = group("");
      const outputBox = group(`Output y: ${cout} map${cout > 1 ? "s" : ""} (C_out, one per filter), ` +
        `each ${out}×${out}`);
      const widest = Math.max(...output.flat(2).map((v) => num(v).length));
      const maps = output.map((_, o) => {
        const g = grid(outputBox, `y[${o}], filter ${o}`, out, out, widest);
        g.panel.dataset.map = String(o);
        return g;
      });
      state = { n, k, s, p, cin, cout, out, input, weight, bias, output, slices, kernelBox, maps, filter: -1 };
      show();
    }

    /** The current step: window, kernel of the current filter, products and sum, output maps. */
    function show() {
      if (state === null) return;
      const { k, s, p, cin, cout, out, input, weight, bias, output, slices, kernelBox, maps } = state;
      const total = cout * out * out;
      position = Math.min(position, total - 1);
      root.dataset.step = String(position);
      const o = Math.floor(position / (out * out)), i = Math.floor(position / out) % out, j = position % out;
      for (const g of slices) {
        g.window.setAttribute("x", j * s * g.size - 1);
        g.window.setAttribute("y", i * s * g.size - 1);
      }
      if (state.filter !== o) {
        state.filter = o;
        kernelBox.innerHTML = "";
        kernelBox.previousSibling.textContent = `Kernel w[${o}]: filter ${o} of ${cout} (C_out), ` +
          `one ${k}×${k} slice per input channel, and its bias b[${o}] = ${num(bias[o])}`;
        weight[o].forEach((slice, c) => {
          const g = grid(kernelBox, `w[${o}, ${c}], for channel ${c}`, k, k, 2);
          g.panel.dataset.kernel = String(c);
          g.svg.setAttribute("aria-label", `Kernel of filter ${o} for input channel ${c}. Rows: ${rowsText(slice)}.`);
          g.cells.forEach((row, u) => row.forEach((cell, v) => {
            cell.rect.setAttribute("class", "cx-kernel");
            cell.text.textContent = num(slice[u][v]);
          }));
        });
        const biasPanel = html("div", "cx-panel cx-bias", kernelBox);
        html("p", "cx-caption", biasPanel, `bias b[${o}]`);
        html("p", "cx-bias-value", biasPanel, num(bias[o]));
      }
      maps.forEach((g, m) => {
        const done = [];
        g.cells.forEach((row, r) => row.forEach((cell, q) => {
          const index = (m * out + r) * out + q;
          const kind = index < position ? "cx-done" : index === position ? "cx-now" : "cx-todo";
          cell.rect.setAttribute("class", kind);
          cell.text.textContent = kind === "cx-todo" ? "" : num(output[m][r][q]);
          if (kind !== "cx-todo") done.push(num(output[m][r][q]));
        }));
        g.svg.setAttribute("aria-label", `Output map ${m}, ${out}×${out}: ` +
          (done.length ? `${done.length} value(s) computed so far, in reading order: ${done.join(" ")}.` :
            "nothing computed yet."));
      });
      const terms = products(input, weight, o, i, j, s, p);
      const partial = terms.map((t) => t.reduce((a, [x, w]) => a + x * w, 0));
      const row0 = i * s - p, col0 = j * s - p;
      sum.innerHTML = "";
      html("p", "cx-sum-head", sum, `Step ${position + 1} of ${total}: y[${o}, ${i}, ${j}] (filter ${o}, ` +
        `output row ${i}, column ${j}; 0-based as in PyTorch). The window covers rows ` +
        `${row0} to ${row0 + k - 1} and columns ${col0} to ${col0 + k - 1} of the unpadded input ` +
        `(an index below 0 or above ${state.n - 1} is padding, value 0).`);
      const list = html("ul", "cx-terms", sum);
      const listAll = k * k * cin <= 75;
      terms.forEach((t, c) => {
        const item = html("li", "", list);
        item.textContent = `channel ${c}: ` +
          (listAll ? t.map(([x, w]) => `${num(x)}·${paren(w)}`).join(" + ") + " = " : "") + num(partial[c]);
      });
      html("li", "", list, `bias b[${o}]: ${num(bias[o])}`);
      const result = html("p", "cx-result", sum);
      result.textContent = `y[${o}, ${i}, ${j}] = ` + partial.map(paren).join(" + ") + ` + ${paren(bias[o])} = `;
      html("strong", "cx-value", result, num(output[o][i][j]));
      if (!listAll) html("p", "", sum, `(${k * k * cin} products; only each channel's sum is listed.)`);
    }

    function advance(wrap) {
      if (state === null) return false;
      const total = state.cout * state.out * state.out;
      if (position + 1 >= total && !wrap) return false;
      position = (position + 1) % total;
      show();
      return true;
    }

    play.addEventListener("click", () => {
      if (timer !== null) return stop();
      if (state === null) return;
      if (position + 1 >= state.cout * state.out * state.out) { position = 0; show(); }
      sum.setAttribute("aria-live", "off");
      timer = setInterval(() => { if (!advance(false)) stop(); }, 450);
      play.textContent = "❚❚ Pause";
    });
    step.addEventListener("click", () => { stop(); advance(true); });
    reset.addEventListener("click", () => { stop(); position = 0; show(); });
    shuffle.addEventListener("click", () => { seed += 1; position = 0; layout(); });
    form.addEventListener("input", () => { position = 0; layout(); });
    layout();
  }

  window.convExplorer = { outputSize, paramCounts, explain, values, conv2d, products };
  const start = () => document.querySelectorAll(".conv-explorer").forEach(build);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
