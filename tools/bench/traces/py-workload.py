# What tools/bench/traces/python.trace records (make bench-traces): Python with
# PYTHONMALLOC=malloc, so every object is a malloc: dicts, lists that grow by
# realloc, strings of all sizes, a JSON round trip, and a sort.
import json
recs = [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5), "v": i * 0.5} for i in range(500)]
s = json.dumps(recs)
back = json.loads(s)
words = s.split(",")
words.sort()
index = {}
for w in words:
    index.setdefault(len(w), []).append(w)
text = " ".join(w.upper() for w in words[:1000])
print(len(s), len(back), len(index), len(text))
