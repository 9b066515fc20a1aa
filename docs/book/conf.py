# Sphinx configuration of the rendered course (built by tools/book.py into build/book/html; `make book`).
# myst-nb renders the notebooks with the outputs tools/book.py executed into them: nothing executes here.
project = "vasa_lab"
author = "the vasa_lab authors"
copyright = "the vasa_lab authors"
html_title = "vasa_lab · VASA-1 as a course"

extensions = ["myst_nb"]
nb_execution_mode = "off"                 # tools/book.py executed every chapter already (timed, one at a time)
nb_merge_streams = True                   # one block per cell for printed text
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_show_sourcelink = False
html_static_path = ["_static"]          # tools/book.py puts MathJax (from jupyter-server-mathjax) in _static/mathjax
html_context = {"default_mode": "light"}
html_favicon = "_static/favicon.png"    # made by tools/book.py from the bundled portrait

# Math renders offline: MathJax 2 served from the site itself, not from a CDN (workshops without internet, and a
# browser check without console errors on a machine that cannot reach a CDN).
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax3_config = None
mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processRefs": False, "processEnvironments": False,
                               # myst marks the page tex2jax_ignore and its math spans `math` (as for MathJax 3)
                               "ignoreClass": "tex2jax_ignore|mathjax_ignore|document",
                               "processClass": "tex2jax_process|mathjax_process|math|output_area"},
                   # the STIX-Web fonts the package ships (as Jupyter's classic notebook did); MathJax's blank
                   # measuring font points at about:blank, which Chrome refuses with a console error: a local() one
                   "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None,
                                "styles": {"@font-face": {"font-family": "MathJax_Blank",
                                                          "src": "local('MathJax_Blank')"}}},
                   "messageStyle": "none", "menuSettings": {"zoom": "None"}}

# Chapter 09's live player is an ipywidgets view: it plays only with a live kernel, so the site loads no widget
# manager (myst-nb would fetch require.js and the widget manager from CDNs, which an offline reader cannot reach).
nb_ipywidgets_js = {}
