"""The image view: pyqtgraph drawing of radiographs and CT planes, windowing and overlays."""
