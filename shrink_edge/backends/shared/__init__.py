"""What several backends share, so that no backend imports another: the float model as the ONNX exporter and
litert-torch write it (the pre-training checks), ONNX QDQ graph edits, TFLite interpreter I/O, Vela, and a Core ML
spec's census."""
