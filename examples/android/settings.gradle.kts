// The sample Android app that ships the bundled Fashion-MNIST model. Regenerate its model with (repo root):
//   shrink-edge export --target tflite --android-project examples/android --out out/android
pluginManagement { repositories { google(); mavenCentral(); gradlePluginPortal() } }
dependencyResolutionManagement { repositories { google(); mavenCentral() } }
rootProject.name = "shrink-edge-sample"
include(":app")
