;;; opencode-module.el --- Build and load the OpenCode C module  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The C module (module/*.c) holds the event stream and the HTTP client.
;; It is built on demand, at first use -- never while a file is loaded
;; or byte-compiled -- by `opencode-module-compile', and loaded by
;; `opencode-module-ensure'.  The errors it signals are defined in
;; opencode-lib.el.

;;; Code:

(require 'cl-lib)
(require 'opencode-lib)

;;;; Building

(defconst opencode-module--lisp-dir
  (file-name-directory (or load-file-name buffer-file-name default-directory))
  "Directory holding the package's Lisp files.")

(defun opencode-module-root ()
  "Return the package root: the directory holding the Makefile."
  (let ((dir opencode-module--lisp-dir))
    (cond ((file-exists-p (expand-file-name "Makefile" dir)) dir)
          ((file-exists-p (expand-file-name "../Makefile" dir))
           (file-name-as-directory (expand-file-name ".." dir)))
          (t dir))))

(defun opencode-module-file ()
  "Return the file name of the compiled module.
It lives beside its sources in module/, off `load-path'."
  (expand-file-name (concat "module/opencode-module" module-file-suffix)
                    (opencode-module-root)))

(defun opencode-module--stale-p ()
  "Return non-nil if the module is missing or older than its C sources."
  (let ((so (opencode-module-file))
        (src (expand-file-name "module" (opencode-module-root))))
    (or (not (file-exists-p so))
        (and (file-directory-p src)
             (cl-some (lambda (f) (file-newer-than-file-p f so))
                      (directory-files src t "\\.[ch]\\'"))))))

(defun opencode-module--have-library-p (pkg-config-name headers)
  "Return non-nil if PKG-CONFIG-NAME's development files are installed.
HEADERS are the header files to look for when pkg-config is absent."
  (or (cl-some #'file-exists-p headers)
      (and (executable-find "pkg-config")
           (eq 0 (call-process "pkg-config" nil nil nil "--exists" pkg-config-name)))))

(defun opencode-module--missing-packages ()
  "Return the Debian packages the build needs and this machine lacks."
  (let (missing)
    (unless (executable-find "make") (push "make" missing))
    (unless (or (executable-find "gcc") (executable-find "cc"))
      (push "gcc" missing))
    (unless (executable-find "pkg-config") (push "pkg-config" missing))
    (unless (opencode-module--have-library-p
             "json-c" '("/usr/include/json-c/json.h"))
      (push "libjson-c-dev" missing))
    (unless (opencode-module--have-library-p
             "libcurl" '("/usr/include/x86_64-linux-gnu/curl/curl.h"
                         "/usr/include/aarch64-linux-gnu/curl/curl.h"
                         "/usr/include/curl/curl.h"))
      (push "libcurl4-openssl-dev" missing))
    (nreverse missing)))

;;;###autoload
(defun opencode-module-compile ()
  "Build the OpenCode C module with make, showing the output.
Signal `opencode-module-error' naming the missing Debian packages when
the C headers or tools are absent, or when the build fails."
  (interactive)
  (let ((missing (opencode-module--missing-packages)))
    (when missing
      (signal 'opencode-module-error
              (list (format "Cannot build the module: install %s (e.g. `sudo apt-get install %s')"
                            (string-join missing ", ")
                            (string-join missing " "))))))
  (let* ((default-directory (opencode-module-root))
         (buf (get-buffer-create "*opencode-module-build*"))
         (status (progn
                   (with-current-buffer buf
                     (let ((inhibit-read-only t)) (erase-buffer)))
                   (message "Building the OpenCode module...")
                   (call-process "make" nil buf t "module"))))
    (unless (eq status 0)
      (unless noninteractive (display-buffer buf))
      (signal 'opencode-module-error
              (list (format "Building the module failed (make exited %s); see %s"
                            status (buffer-name buf)))))
    (message "Building the OpenCode module...done")
    (opencode-module-file)))

(defcustom opencode-module-auto-compile t
  "Whether to build the C module automatically at first use.
When nil, `opencode-module-ensure' signals an error asking to run
\\[opencode-module-compile]."
  :type 'boolean
  :group 'opencode)

(defun opencode-module-ensure ()
  "Make sure the C module is loaded, building it first if needed."
  (unless (fboundp 'opencode--module-open)
    (unless module-file-suffix
      (signal 'opencode-module-error
              (list "This Emacs was built without dynamic module support")))
    (when (and (opencode-module--stale-p)
               (file-exists-p (expand-file-name "Makefile" (opencode-module-root))))
      (if opencode-module-auto-compile
          (opencode-module-compile)
        (signal 'opencode-module-error
                (list "The module is not built: run M-x opencode-module-compile"))))
    (unless (file-exists-p (opencode-module-file))
      (signal 'opencode-module-error
              (list (format "No module at %s: run M-x opencode-module-compile"
                            (opencode-module-file)))))
    (module-load (opencode-module-file))
    (unless (fboundp 'opencode--module-open)
      (signal 'opencode-module-error
              (list "The module loaded but defined nothing (ABI mismatch?)")))))

(provide 'opencode-module)
;;; opencode-module.el ends here
