"""``autoenchorder serve``: a web page and an HTTP API that score songs with one bundle.

A FastAPI app (:func:`~autoenchorder.serve.app.create_app`) on uvicorn. The bundle is loaded
once per scoring process; the app itself reads only the bundle's JSON and its training index.

Modules, one job each:

- :mod:`.settings` -- the options (limits, workers, queue, token);
- :mod:`.problems` -- the one error a request can end in, and messages a musician reads;
- :mod:`.uploads` -- limits on the request body, type sniffing, the private upload folder;
- :mod:`.worker` -- what runs inside a scoring process (the Predictor, waveform, codes);
- :mod:`.pool` -- the scoring processes and the bounded queue in front of them;
- :mod:`.card` -- the model card;
- :mod:`.neighbours` -- the training songs nearest a new song, and its percentile;
- :mod:`.analysis` -- strongest / weakest moments, the interval, where two versions differ;
- :mod:`.app` -- the routes; ``static/`` -- the page (no CDN, no build step).
"""
