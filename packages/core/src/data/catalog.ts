/**
 * What arcal knows about each file-backed dataset: the file names of its official training and test files,
 * the folder names it is commonly unpacked into, and where the originals are published together with their
 * published checksums. Data only.
 */
import type { DatasetName } from '@arcal/contracts';
import type { ImageShape } from './types.ts';

/** The datasets that come from files (everything but `synthetic`). */
export type FileDatasetName = Exclude<DatasetName, 'synthetic'>;
export type FileFormat = 'idx' | 'cifar10' | 'cifar100' | 'svhn-mat';

export interface Checksum {
  algorithm: 'md5' | 'sha256';
  hex: string;
}

/** One published file: mirrors tried in order, its checksum, and for archives the members to keep. */
export interface RemoteFile {
  /** File name in the cache (for archives: only a label, the archive itself is not kept). */
  name: string;
  urls: string[];
  checksum: Checksum;
  /** For a .tar.gz: members to extract, each written to the cache as `name`. */
  extract?: Array<{ member: string; name: string }>;
}

export interface DatasetEntry {
  format: FileFormat;
  classes: number;
  shape: ImageShape;
  /** Human name for messages. */
  title: string;
  /** Files making up the official training file, in order (a trailing `.gz` is also accepted for each). */
  train: string[];
  /** Files making up the official test file. */
  test: string[];
  /** Sub-folders of a data directory to look in besides the directory itself. */
  subdirs: string[];
  /** Debian package that installs it under /usr/share/datasets/<name>, if any. */
  debianPackage?: string;
  remote: RemoteFile[];
}

const IDX_TRAIN = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'];
const IDX_TEST = ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

const idxRemote = (bases: string[], md5: Record<string, string>): RemoteFile[] =>
  [...IDX_TRAIN, ...IDX_TEST].map((f) => ({
    name: `${f}.gz`,
    urls: bases.map((b) => `${b}${f}.gz`),
    checksum: { algorithm: 'md5', hex: md5[f] },
  }));

const CIFAR10_TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);

export const DATASETS: Record<FileDatasetName, DatasetEntry> = {
  'fashion-mnist': {
    format: 'idx',
    classes: 10,
    shape: [28, 28, 1],
    title: 'Fashion-MNIST',
    train: IDX_TRAIN,
    test: IDX_TEST,
    subdirs: ['fashion-mnist'],
    debianPackage: 'dataset-fashion-mnist',
    // md5 of the published .gz files, from github.com/zalandoresearch/fashion-mnist
    remote: idxRemote(
      [
        'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
        'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
      ],
      {
        'train-images-idx3-ubyte': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        'train-labels-idx1-ubyte': '25c81989df183df01b3e8a0aad5dffbe',
        't10k-images-idx3-ubyte': 'bef4ecab320f06d8554ea6380940ec79',
        't10k-labels-idx1-ubyte': 'bb300cfdad3c16e7a12a480ee83cd310',
      },
    ),
  },
  mnist: {
    format: 'idx',
    classes: 10,
    shape: [28, 28, 1],
    title: 'MNIST',
    train: IDX_TRAIN,
    test: IDX_TEST,
    subdirs: ['mnist'],
    // md5 of the .gz files as published at yann.lecun.com/exdb/mnist (mirrored by the PyTorch project on S3)
    remote: idxRemote(['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'], {
      'train-images-idx3-ubyte': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'train-labels-idx1-ubyte': 'd53e105ee54ea40749a09fcbcd1e9432',
      't10k-images-idx3-ubyte': '9fb629c4189551a2d022fa330f9573f3',
      't10k-labels-idx1-ubyte': 'ec29112dd5afa0611ce80d1b7f02629c',
    }),
  },
  cifar10: {
    format: 'cifar10',
    classes: 10,
    shape: [32, 32, 3],
    title: 'CIFAR-10',
    train: CIFAR10_TRAIN,
    test: ['test_batch.bin'],
    subdirs: ['cifar10', 'cifar-10-batches-bin', 'cifar10/cifar-10-batches-bin'],
    // md5 published on https://www.cs.toronto.edu/~kriz/cifar.html
    remote: [
      {
        name: 'cifar-10-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
        checksum: { algorithm: 'md5', hex: 'c32a1d4ab5d03f1284b67883e8d87530' },
        extract: [...CIFAR10_TRAIN, 'test_batch.bin'].map((f) => ({ member: `cifar-10-batches-bin/${f}`, name: f })),
      },
    ],
  },
  cifar100: {
    format: 'cifar100',
    classes: 100,
    shape: [32, 32, 3],
    title: 'CIFAR-100',
    train: ['train.bin'],
    test: ['test.bin'],
    subdirs: ['cifar100', 'cifar-100-binary', 'cifar100/cifar-100-binary'],
    remote: [
      {
        name: 'cifar-100-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
        checksum: { algorithm: 'md5', hex: '03b5dce01913d631647c71ecec9e9cb8' },
        extract: ['train.bin', 'test.bin'].map((f) => ({ member: `cifar-100-binary/${f}`, name: f })),
      },
    ],
  },
  svhn: {
    format: 'svhn-mat',
    classes: 10,
    shape: [32, 32, 3],
    title: 'SVHN',
    train: ['train_32x32.mat'],
    test: ['test_32x32.mat'],
    subdirs: ['svhn'],
    // the cropped digits (format 2) from http://ufldl.stanford.edu/housenumbers/; md5 as listed by torchvision
    remote: [
      {
        name: 'train_32x32.mat',
        urls: ['http://ufldl.stanford.edu/housenumbers/train_32x32.mat'],
        checksum: { algorithm: 'md5', hex: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
      },
      {
        name: 'test_32x32.mat',
        urls: ['http://ufldl.stanford.edu/housenumbers/test_32x32.mat'],
        checksum: { algorithm: 'md5', hex: 'eb5a983be6a315427106f1b164d9cef3' },
      },
    ],
  },
};

export const isFileDataset = (name: string): name is FileDatasetName => Object.hasOwn(DATASETS, name);
