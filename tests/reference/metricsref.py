"""Reference checks of `--metrics` and `--sublayers`, shared by the runners.

A runner's torch model (gpt2ref.TorchGPT2, llamaref.TorchLlama, otherref.TorchOther,
gemmaref.TorchGemma) gives forward(ids) -> (residuals (L+1, T, C), logits) and, after it,
model.mids: the residual after each block's attention sub-layer (parallel-residual blocks: the
block's input plus the attention output alone), as transformers' modeling code computes them.
metrics_case runs the CLI with --json --metrics --sublayers and compares every cell in float64:
top-k and entropy of every row (sub-layer rows included), kl_final = KL(P_final || P_cell) with
P_final the last block's row, and next = {id, prob, rank, cross_entropy} of the token that
follows (null at the last position).
"""

import json

import numpy as np
import torch

import run_reference as rr

check = rr.check
Failure = rr.Failure

KL_ATOL = 1e-4
KL_RTOL = 1e-3
XENT_ATOL = 1e-4
XENT_RTOL = 1e-3
# Log-probabilities closer than this to the next token's count as tied: the engine's float32
# logits are good to about 1e-5 here (see max|dXent|), so nearer neighbours may come either side.
RANK_TIE = 1e-4


def want_labels(layers, with_embed, sublayers):
    """The CLI's "layers": "embed", then per block "L.attn" (with sublayers) and L."""
    out = ["embed"] if with_embed else []
    for l in layers:
        if sublayers:
            out.append(f"{l}.attn")
        out.append(l)
    return out


def reference_rows(model, ids, labels):
    """Log-probabilities (R, T, V) of the rows `labels` and (T, V) of the last block's row."""
    with torch.no_grad():
        resid, _ = model.forward(ids)
        mids = model.mids
        check(len(mids) == resid.shape[0] - 1, f"reference kept {len(mids)} sub-layer residuals")
        rows = []
        for lab in labels:
            if lab == "embed":
                rows.append(resid[0])
            elif isinstance(lab, str):
                rows.append(mids[int(lab.split(".")[0])])
            else:
                rows.append(resid[lab + 1])
        logp = model.lens(torch.stack(rows))
        final = model.lens(resid[-1:])[0]
    return logp.numpy(), final.numpy()


def close(got, want, atol, rtol):
    return abs(got - want) <= atol + rtol * abs(want)


def compare_cells(j, ids, labels, logp, final, top_k, text_ok=None):
    """Every cell of the CLI's JSON `j` against the reference log-probabilities. Returns the
    worst errors."""
    check(j["layers"] == labels, f"layers {j['layers']} != {labels}")
    cells = j["cells"]
    R, T, V = logp.shape
    K = min(top_k, V)
    check(len(cells) == R, f"{len(cells)} rows of cells, want {R}")
    worst = dict(p=0.0, h=0.0, kl=0.0, kl_rel=0.0, xent=0.0, rank_ties=0)
    pf = np.exp(final)  # (T, V)
    for ri in range(R):
        check(len(cells[ri]) == T, f"row {labels[ri]}: {len(cells[ri])} cells, want {T}")
        for t in range(T):
            cell = cells[ri][t]
            where = f"layer {labels[ri]} pos {t}"
            lp = logp[ri, t]
            p = np.exp(lp)
            # top-k and entropy, as the plain lens checks them
            top = cell["top"]
            check(len(top) == K, f"{where}: {len(top)} top entries, want {K}")
            order = np.argsort(-p, kind="stable")
            kth = p[order[K - 1]]
            for i, e in enumerate(top):
                err = abs(e["prob"] - p[e["id"]])
                worst["p"] = max(worst["p"], err)
                check(err <= rr.PROB_ATOL and (p[e["id"]] < 1e-5 or err <= rr.PROB_RTOL * p[e["id"]]),
                      f"{where}: id {e['id']} prob {e['prob']!r} vs reference {p[e['id']]:.9g}")
                check(p[e["id"]] >= kth - rr.TIE_EPS, f"{where}: id {e['id']} not in the top {K}")
                if text_ok is not None:
                    text_ok(e["id"], e["text"], where)
            ent = float(-(p * lp).sum())
            worst["h"] = max(worst["h"], abs(cell["entropy"] - ent))
            check(abs(cell["entropy"] - ent) <= rr.ENTROPY_ATOL,
                  f"{where}: entropy {cell['entropy']} vs {ent:.9g}")
            # kl_final = sum_v p_f (log p_f - log p_c)
            kl = float((pf[t] * (final[t] - lp)).sum())
            got = cell.get("kl_final")
            check(isinstance(got, (int, float)), f"{where}: kl_final is {got!r}")
            worst["kl"] = max(worst["kl"], abs(got - kl))
            if kl > 1e-3:
                worst["kl_rel"] = max(worst["kl_rel"], abs(got - kl) / kl)
            check(close(got, kl, KL_ATOL, KL_RTOL), f"{where}: kl_final {got!r} vs {kl:.9g}")
            # next
            nxt = cell.get("next", "missing")
            if t == T - 1:
                check(nxt is None, f"{where}: the last position has next {nxt!r}, want null")
                continue
            check(isinstance(nxt, dict), f"{where}: next is {nxt!r}")
            nid = ids[t + 1]
            check(nxt.get("id") == nid, f"{where}: next.id {nxt.get('id')!r}, want {nid}")
            want_p = float(p[nid])
            err = abs(nxt["prob"] - want_p)
            worst["p"] = max(worst["p"], err)
            check(err <= rr.PROB_ATOL and (want_p < 1e-5 or err <= rr.PROB_RTOL * want_p),
                  f"{where}: next.prob {nxt['prob']!r} vs {want_p:.9g}")
            xent = float(-lp[nid])
            worst["xent"] = max(worst["xent"], abs(nxt["cross_entropy"] - xent))
            check(close(nxt["cross_entropy"], xent, XENT_ATOL, XENT_RTOL),
                  f"{where}: next.cross_entropy {nxt['cross_entropy']!r} vs {xent:.9g}")
            # rank: exact unless other ids tie with the next token
            lo = 1 + int((lp > lp[nid] + RANK_TIE).sum())
            hi = 1 + int((lp > lp[nid] - RANK_TIE).sum()) - 1  # minus the token itself
            hi = max(hi, lo)
            worst["rank_ties"] += hi > lo
            if not lo <= nxt["rank"] <= hi:
                gaps = np.sort(np.abs(np.delete(lp, nid) - lp[nid]))[:2]
                raise Failure(f"{where}: next.rank {nxt['rank']!r}, want {lo}"
                              + (f"..{hi}" if hi > lo else "")
                              + f" (nearest other log-probs {gaps[0]:.3g}, {gaps[1]:.3g} away)")
    return worst


def metrics_case(cli, model, model_dir, prompt, ids_of, top_k=5, layers_spec=None, L=None,
                 with_embed=True, sublayers=True, env=None, text_ok=None):
    """Runs the CLI with --metrics (and --sublayers) on `prompt` and checks every cell.
    ids_of(json) -> the ids the reference runs on (the CLI's, after checking them)."""
    args = ["--model", model_dir, "--json", "--metrics", "--top-k", str(top_k), "--prompt",
            prompt]
    if sublayers:
        args.append("--sublayers")
    if with_embed:
        args.append("--embeddings")
    layers = list(range(L))
    if layers_spec:
        args += ["--layers", layers_spec]
        layers = rr.parse_layers_spec(layers_spec, L)
    p, dt = rr.run_cli(cli, args, env=env)
    if p.returncode != 0:
        raise Failure(f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
    try:
        j = json.loads(p.stdout.decode("utf-8"))
    except ValueError as e:
        raise Failure(f"stdout is not JSON: {e}")
    ids = ids_of(j)
    labels = want_labels(layers, with_embed, sublayers)
    logp, final = reference_rows(model, ids, labels)
    w = compare_cells(j, ids, labels, logp, final, top_k, text_ok)
    ties = f" rank-ties={w['rank_ties']}" if w["rank_ties"] else ""
    return (f"T={len(ids)} rows={len(labels)} max|dp|={w['p']:.2g} max|dH|={w['h']:.2g} "
            f"max|dKL|={w['kl']:.2g} (rel {w['kl_rel']:.2g}) max|dXent|={w['xent']:.2g}{ties} "
            f"{dt:.2f}s")
