"""Reference views: what loading the published GHN-2 (ppuda) and GHN-3 (ghn3) checkpoints needs.

- :mod:`.graph` -- :class:`ReferenceGraph`, the reference's graph of an architecture (its primitive vocabulary,
  one node per parameter tensor or parameter-free op, shortest-path virtual edges), built from our trace.
- :mod:`.view` -- :func:`~.view.reference_graph`, that graph of an ``nn.Module`` or ``ArchGraph`` with the
  reference builder's rules (exact on 77 of the 80 torchvision classifiers, ``scripts/oracle_ghn_graph.py``).
- :mod:`.model` -- :class:`ReferenceGHN`, the published GHN-2 / GHN-3 module layouts (a published state dict
  loads unchanged) and their forward pass: ``predict_graph(graph, shapes) -> {parameter name: tensor}``; built
  from :mod:`.layers` (shape encoder, GatedGNN, Graphormer layers, tiled decoder), :mod:`.targets` (which node
  predicts which parameter, grouping keys) and :mod:`.tiling` (fitting blocks to shapes, normalisation).
- :mod:`.published` -- published names, their files, and the allow-list loading of those pickled files.
- :mod:`.ghn` -- :class:`~.ghn.PublishedGHN`: a published GHN with ``predict`` / ``predict_many`` / ``apply``, as
  ``graphhyper.ghn.from_pretrained("ghn3tm8")`` returns it.
"""
