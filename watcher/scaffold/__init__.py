"""`watcher init`: a watch drafted from an upstream pull request or issue and a chart.

``suggest.py`` (pure) parses the reference and proposes the tag pattern, markers and
image keys; ``draft.py`` reads what they need and writes the ``[[watch]]`` table;
``config_file.py`` appends it to the config file without ever clobbering it.
"""
